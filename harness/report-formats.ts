/** The formats of a simulation report: its own module, so the CLI lists them without loading the harness. */
export type ReporterFormat = 'text' | 'json' | 'junit';
export const REPORTER_FORMATS: readonly ReporterFormat[] = ['text', 'json', 'junit'];
