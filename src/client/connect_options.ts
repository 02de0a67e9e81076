/**
 * What `chat connect` was asked to do, shared by its three faces (terminal,
 * plain and pipe), so none of them imports another's entry point.
 *
 * @module
 */

import type { LinkTarget } from "./chat_link.ts";

/** Options for `chat connect`. */
export interface ConnectOptions extends LinkTarget {
  nick?: string;
  room?: string;
  password?: string;
  /** Pipe mode prints raw protocol events. */
  json: boolean;
}
