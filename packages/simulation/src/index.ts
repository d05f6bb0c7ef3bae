export { simulate, summary, type SimulationOptions, type SimulationReport } from './simulate';
export { simulateMerge, mergeSummary, type MergeSimulationOptions, type MergeReport } from './merge';
