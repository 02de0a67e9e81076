/**
 * How the server answers a member's frames: a table from frame type to its
 * handler, the server's half of the command registry (the other half, how a
 * typed line becomes a frame, is `src/shared/commands.ts`).
 *
 * The table's type names every {@linkcode CommandFrame} type, so a frame type
 * added to `protocol.ts` without a handler does not compile, and each handler
 * is given its own frame type, not the union.
 *
 * @module
 */

import type { CommandFrame } from "../../protocol.ts";

/** The type of a frame a member sends after its hello: `say`, `join`, … */
export type FrameType = CommandFrame["type"];

/** The frame whose type is `T`. */
export type FrameOf<T extends FrameType> = Extract<CommandFrame, { type: T }>;

/** Answers one frame of type `T` from `member`. */
export type FrameHandler<Member, T extends FrameType> = (
  member: Member,
  frame: FrameOf<T>,
) => void;

/**
 * A handler for each frame type of `Types` (default: all of them): a table
 * that leaves one out, or names one that does not exist, does not compile.
 */
export type FrameHandlers<Member, Types extends FrameType = FrameType> = {
  readonly [T in Types]: FrameHandler<Member, T>;
};

/** Hands `frame` to the handler for its type. */
export function dispatchFrame<Member>(
  handlers: FrameHandlers<Member>,
  member: Member,
  frame: CommandFrame,
): void {
  // The table's type ties each handler to its frame type; TypeScript cannot
  // follow that through a lookup by `frame.type`, so it is said here once.
  const handler = handlers[frame.type] as FrameHandler<Member, FrameType>;
  handler(member, frame);
}
