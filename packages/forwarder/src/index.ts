export { Forwarder, type ForwarderOptions, type PassReport, type Publisher } from './forwarder';
