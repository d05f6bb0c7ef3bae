export { simulate, summary, type SimulationOptions, type SimulationReport } from './simulate';
