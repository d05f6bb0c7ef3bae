export { Forwarder, LockLostError, type ForwarderOptions, type PassReport, type Publisher, type RunOptions } from './forwarder';
export { graphqlPublisher, PublishError, type GraphQLPublisherOptions, type GraphQLRequest, type GraphQLResponse, type GraphQLTransport, type ErroredPublish } from './publisher';
