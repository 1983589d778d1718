/** The desired state that manifests declare: the model's types plus where each came from. */
import type { ConnectionConfig, Policy, Webhook } from '../model/types.js';
import type { SourceSpan } from './diagnostics.js';

export type SecretRef = { env: string } | { file: string };

/**
 * A secret as the manifest gives it: a literal (only `url` may be one) or a ref to resolve.
 * `baseDir`: the manifest file's folder (file refs are relative to it); `root`: the manifest
 * root, the folder named on the command line (or the folder of a file named there) that the
 * manifest was found through; a file ref must stay inside it or inside a secrets dir.
 */
export type SecretInput = { value: string } | { ref: SecretRef; baseDir: string; root: string };

export interface DesiredConnection extends ConnectionConfig {
  secrets: { url: SecretInput; authorization: SecretInput };
  span: SourceSpan;
}

/** `key` is always filled in (derived from the name when the manifest omits it). */
export interface DesiredWebhook extends Webhook {
  span: SourceSpan;
}

/** A list that is undefined is not managed; [] manages it as empty. */
export interface DesiredPolicy extends Policy {
  pre_execution_webhooks?: DesiredWebhook[];
  post_execution_webhooks?: DesiredWebhook[];
  span: SourceSpan;
}

export interface DesiredState {
  connections: DesiredConnection[];
  policies: DesiredPolicy[];
  /** The manifest files read, in order, as shown to users. */
  files: string[];
  /** sha256 (hex) over the files' names (as in `files`) and contents. */
  digest: string;
}
