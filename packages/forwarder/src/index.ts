export { Forwarder, type ForwarderOptions, type PassReport, type Publisher, type RunOptions } from './forwarder';
export { graphqlPublisher, PublishError, type GraphQLRequest, type GraphQLResponse, type GraphQLTransport } from './publisher';
