/**
 * The steps every dialect of a connection takes through admission: a hello
 * and a password check wait their address's turn, a wrong password is
 * answered slowly, a registered nickname needs its own password, and each
 * command is charged to the flood allowance before the hub runs it.
 *
 * The numbers are decided by the connection's {@linkcode Ticket}
 * (src/server/admission.ts); this module is what a door does with them, in
 * one copy for the text, JSON, unframed and IRC dialects (and the browser's
 * WebSocket, which is a JSON connection). The UDP door shares the ticket and
 * the guest naming (unframed.ts) but not these waits: a datagram cannot wait
 * its turn.
 *
 * @module
 */

import type { ClientFrame } from "../../../protocol.ts";
import { COMMAND_COSTS } from "../admission.ts";
import type { HelloRequest } from "../hub.ts";
import { passwordMatches } from "../password.ts";
import { SAFETY_TIMINGS } from "../../shared/limits.ts";
import { cleanText } from "../../shared/sanitize.ts";
import type { DoorLink } from "./dialect.ts";

/** Hellos, passwords and the flood allowance for one connection. */
export class DoorPolicy {
  #link: DoorLink;
  /** Set after a wrong password: nothing more is read, no second guess per delay. */
  #refused = false;

  /** @param link the connection this policy serves. */
  constructor(link: DoorLink) {
    this.#link = link;
  }

  /** True once a wrong password (or too many) ended the connection's chances. */
  get refused(): boolean {
    return this.#refused;
  }

  /**
   * True when joining as `nick` needs a password: a registered nickname's
   * own, which on a server with `--password` stands in for the server's.
   */
  needsPassword(nick: string): boolean {
    const settings = this.#link.settings;
    return settings.password !== undefined ||
      settings.hub.accounts.find(nick) !== undefined;
  }

  /**
   * A hello whose password is `given`: a registered nickname's account
   * password signs it in, else the server's is checked when there is one;
   * then the hello, when its address's turn comes.
   *
   * @param accountNick the nickname whose account to look up (the hello's,
   * trimmed).
   */
  signIn(request: HelloRequest, given: string, accountNick: string): void {
    if (!this.needsPassword(accountNick)) return this.hello(request);
    this.checkPassword(given, accountNick, (account) => {
      this.hello(
        account === undefined ? request : { ...request, signedIn: true },
      );
    });
  }

  /**
   * Checks `given` when its address's turn comes (at most two checks a
   * second per address, fewer after wrong ones): against the account of
   * `nick` when it is registered, else against the server's password. If
   * right, runs `then` with the account's nickname (`undefined` for the
   * server's password); if wrong, refuses slowly and closes.
   */
  checkPassword(
    given: string,
    nick: string | undefined,
    then: (account: string | undefined) => void,
  ): void {
    const accounts = this.#link.settings.hub.accounts;
    const account = nick === undefined ? undefined : accounts.find(nick);
    if (!account) {
      return this.#checkPasswordInTurn(given, () => then(undefined));
    }
    this.#checkPasswordInTurn(
      given,
      () => then(account.nick),
      (g) => accounts.verifyAsync(account.nick, g),
    );
  }

  #checkPasswordInTurn(
    given: string,
    then: () => void,
    matches: (given: string) => boolean | Promise<boolean> = (g) =>
      passwordMatches(g, this.#link.settings.password ?? ""),
  ): void {
    const link = this.#link;
    const wait = link.ticket.passwordWait();
    if (wait === undefined) return this.#refuseGuessing();
    if (wait > 0) {
      return link.wait(
        wait,
        () => this.#checkPasswordInTurn(given, then, matches),
      );
    }
    const verdict = matches(given);
    if (typeof verdict === "boolean") return this.#checked(verdict, then);
    // An account's hash is checked off the event loop: reads stay paused
    // and lines that arrive meanwhile are held, as during any wait.
    link.waitFor(verdict, (ok) => this.#checked(ok, then));
  }

  /** After a password check: refuse, or run `then`. */
  #checked(ok: boolean, then: () => void): void {
    const ticket = this.#link.ticket;
    if (!ok) {
      ticket.passwordFailed();
      return this.#refusePassword();
    }
    ticket.passwordSucceeded();
    then();
  }

  /**
   * A hello, once its address's turn comes (`--hellos-per-second`): admits
   * the connection, then runs `then` if it became a member.
   */
  hello(request: HelloRequest, then?: () => void): void {
    const link = this.#link;
    const wait = link.ticket.helloWait();
    if (wait === undefined) {
      if (!this.allow(COMMAND_COSTS.invalid)) return;
      return link.dialect.helloRefused(
        "rate_limited",
        "too many joins from your address at once; try again in a moment",
      );
    }
    link.wait(wait, () => {
      this.#admit(request);
      if (link.session && !link.closed) then?.();
    });
  }

  #admit(request: HelloRequest): void {
    const link = this.#link;
    const { hub, log } = link.settings;
    const addressed = { ...request, address: link.ticket.address };
    const result = hub.hello(link, addressed);
    if (typeof result === "string") {
      return link.dialect.helloRefused(
        result,
        hub.helloRefusalMessage(result, addressed),
      );
    }
    if (link.closed) {
      // The welcome itself ended this connection (a failed write, or more
      // than a client that does not read may have queued) while hub.hello
      // had not yet returned its session, so close() could not leave: leave
      // now, or the nickname and the room's member would stay for ever.
      hub.leave(result, link.closeReason);
      log(`leave ${result.nick} ${link.peer}: ${link.closeReason}`);
      return;
    }
    link.admitted(result);
    link.ticket.admitted();
    log(`join ${result.nick} ${link.peer} room=${result.room}`);
  }

  /** A wrong password: the refusal and the close come after a delay. */
  #refusePassword(): void {
    const link = this.#link;
    this.#refused = true;
    link.settings.log(`refused ${link.peer}: wrong password`);
    link.wait(SAFETY_TIMINGS.wrongPasswordDelayMs, () => {
      link.sendError("bad_password");
      link.close("wrong password", { type: "bye", reason: "wrong password" });
    });
  }

  /** Too many wrong passwords from this address lately: no check at all. */
  #refuseGuessing(): void {
    const link = this.#link;
    this.#refused = true;
    link.settings.log(
      `refused ${link.peer}: too many wrong passwords from ${link.ticket.address}`,
    );
    link.sendError(
      "rate_limited",
      "too many wrong passwords from your address; try again later",
    );
    link.close("too many wrong passwords", {
      type: "bye",
      reason: "too many wrong passwords",
    });
  }

  /**
   * Takes `cost` from the flood allowance. Over it, the client is told
   * (`rate_limited`), or after `--flood-seconds` of it is disconnected; the
   * command is not run.
   */
  allow(cost: number): boolean {
    const link = this.#link;
    if (link.ticket.take(cost)) return true;
    if (link.ticket.floodingFor() >= link.settings.floodMs) {
      const who = link.session ? `${link.session.nick} ` : "";
      link.settings.log(`flood ${who}${link.peer}`);
      link.close("flooding", { type: "bye", reason: "flooding" });
    } else link.sendError("rate_limited");
    return false;
  }

  /** A member's command: `quit` ends the connection, the rest are charged, then run. */
  command(frame: Exclude<ClientFrame, { type: "hello" }>): void {
    const link = this.#link;
    const session = link.session!;
    if (frame.type === "quit") {
      // The reason is shown to the room in the leave notice: clean it.
      // Cut before cleaning, so a cut through a surrogate pair becomes U+FFFD.
      const reason = cleanText((frame.reason ?? "").slice(0, 100)).trim();
      return link.close(reason || "quit", {
        type: "bye",
        reason: "goodbye",
      });
    }
    // Every command is work and a reply, so every one counts.
    if (!this.allow(COMMAND_COSTS[frame.type])) return;
    link.settings.hub.handle(session, frame);
  }
}
