/**
 * One IRC client's conversation with the server: registration (CAP, PASS,
 * NICK, USER), then IRC commands turned into the hub's frames, and the
 * hub's events turned back into IRC lines.
 *
 * Pure and synchronous: the socket edge (irc_dialect.ts) feeds it lines and
 * events; everything it decides goes through an {@linkcode IrcPort}, the
 * same admission and command path every door uses.
 *
 * @module
 */

import {
  type CommandFrame,
  type ErrorCode,
  nickErrorMessage,
  type PinnedNotice,
  type RoomRole,
  type ServerEvent,
  VERSION,
} from "../../../../protocol.ts";
import { MODERATION_LIMITS, PROTOCOL_LIMITS } from "../../../shared/limits.ts";
import {
  formatIrcMessage,
  type IrcMessage,
  parseIrcLine,
} from "./irc_message.ts";
import {
  awayLine,
  banListLines,
  channelOf,
  IRC_CAPABILITIES,
  type IrcCapability,
  ircEncoder,
  isOwnEcho,
  maskMatches,
  memberSource,
  modLines,
  namesLines,
  nickOfMask,
  renderIrc,
  roomOf,
  topicLines,
  withOps,
} from "./irc_render.ts";
import type { EventEncoder } from "../../outgoing.ts";

/** What an IRC session may ask of the server. */
export interface IrcPort {
  /** The server's name (source of numerics) and the network's. */
  readonly serverName: string;
  /** Whether a server password is required. */
  readonly needsPassword: boolean;
  /** When the server started, for `003` and `329`. */
  readonly startedAt: number;
  /** Why a nickname cannot be taken now, or `undefined`. */
  checkNick(nick: string): ErrorCode | undefined;
  /**
   * Checks the server password (`undefined` when none was given) when its
   * address's turn comes, then runs `then` if it is right; a wrong one the
   * port answers (`bad_password`, rendered as 464) and closes, slowly.
   */
  checkPassword(
    given: string | undefined,
    then: () => void,
    nick?: string,
  ): void;
  /**
   * True when `nick` is a registered nickname: `PASS` is then its account
   * password, checked like the server's (`checkPassword` with the nick).
   */
  isRegistered?(nick: string): boolean;
  /**
   * Joins the chat as `nick` (when its address's turn comes); the welcome
   * arrives as an event, a refusal as an `error` event followed by
   * {@linkcode IrcSession.registrationFailed}.
   */
  register(nick: string): void;
  /** Hands a frame to the hub through the shared rate and flood limits. */
  send(frame: CommandFrame): void;
  /** The rooms a connected member is in, or `undefined` if no one has that nick. */
  roomsOf(nick: string): string[] | undefined;
  /** The nicknames of the members of `room`. */
  membersOf(room: string): readonly string[];
  /** This client's role in `room`, if it is the owner or an admin there. */
  roleIn(room: string): RoomRole | undefined;
  /** Whether only the owner and admins may speak in `room` (`+m`). */
  mutedAll(room: string): boolean;
  /** The room's pinned notice (its topic), if one is set. */
  noticeOf(room: string): PinnedNotice | undefined;
  /** A connected member's away message, if it is marked away. */
  awayOf(nick: string): string | undefined;
  /**
   * Marks this client away with `text`, or back (`undefined`), for everyone
   * sharing a room with it; false when the flood limit refused it.
   */
  setAway(text: string | undefined): boolean;
  /** How many members and rooms there are, for `LUSERS`. */
  counts(): { users: number; rooms: number };
  /** Writes raw IRC lines to this client. */
  write(lines: string): void;
  /**
   * Writes raw IRC lines once the messages this client sent before them
   * have gone out to their rooms: a `PONG` must follow the `PRIVMSG`s it
   * answers, as on any IRC server (bots and load generators close their
   * window of messages with `PING`).
   */
  writeAfterPending(lines: string): void;
  /** Ends the connection; `bye` renders as `ERROR`. */
  quit(reason: string, event?: ServerEvent): void;
}

/** Channels one client may name in one JOIN or PART, nicks in one KICK. */
const MAX_TARGETS = 10;

/** Mode changes one MODE line may make (`MODES` in ISUPPORT). */
const MAX_MODE_CHANGES = 4;

/** The recall window in seconds, which `REDACT_WINDOW_EXPIRED` names. */
const RECALL_WINDOW_SECONDS = Math.round(
  MODERATION_LIMITS.recallWindowMs / 1000,
);

/** What the next `who` event answers: a NAMES or a WHO. */
type WhoReply = { kind: "names" | "who"; channel: string };

/** One IRC client, from its first line to QUIT. */
export class IrcSession {
  #port: IrcPort;
  #nick = "*";
  #user: string | undefined;
  #pass: string | undefined;
  #capNegotiating = false;
  #passwordChecked = false;
  #registered = false;
  #caps = new Set<IrcCapability>();
  #channels = new Set<string>();
  #whoReply: WhoReply | undefined;
  /**
   * The channel or nick a command in progress is about, for error
   * numerics: `nick` the member it acts on, or for `REDACT` the msgid.
   */
  #target: { command: string; name: string; nick?: string } | undefined;
  #lastNickChange = "";
  /** Members whose QUIT this client was shown, until they join again. */
  #quitShown = new Set<string>();
  /** Rooms this client is leaving with PART now, and its reason. */
  #parting = new Map<string, string>();
  #view = {
    server: "",
    nick: "*",
    caps: this.#caps as ReadonlySet<IrcCapability>,
  };
  #encoder: EventEncoder;

  /** @param port the server side. */
  constructor(port: IrcPort) {
    this.#port = port;
    this.#view.server = port.serverName;
    this.#encoder = ircEncoder(this.#view);
  }

  /** True once NICK, USER (and CAP END, if CAP began) made it a member. */
  get registered(): boolean {
    return this.#registered;
  }

  /** The client's nickname (`*` before it chose one). */
  get nick(): string {
    return this.#nick;
  }

  /** The encoder for events everyone sees, shared by members with the same capabilities. */
  get encoder(): EventEncoder {
    return this.#encoder;
  }

  /** The capabilities this client enabled. */
  get caps(): ReadonlySet<IrcCapability> {
    return this.#caps;
  }

  /**
   * Whether an event needs rendering for this client alone rather than as
   * the shared bytes: its own echoes without `echo-message`, replies that
   * depend on what it asked, and anything that changes its state.
   */
  isPersonal(event: ServerEvent): boolean {
    switch (event.type) {
      case "msg":
      case "dm":
        return isOwnEcho(event, this.#nick);
      case "join":
        return event.nick === this.#nick || this.#quitShown.has(event.nick) ||
          (!event.others && this.#caps.has("away-notify") &&
            this.#port.awayOf(event.nick) !== undefined);
      case "leave":
        // A quit is announced in every room the member was in: shown once.
        return event.nick === this.#nick || event.reason !== undefined;
      default:
        return true;
    }
  }

  /** Renders an event for this client alone, updating what it knows. */
  render(event: ServerEvent): string {
    switch (event.type) {
      case "msg":
      case "dm":
        if (isOwnEcho(event, this.#nick) && !this.#caps.has("echo-message")) {
          return "";
        }
        return renderIrc(event, this.#view);
      case "welcome":
        this.#channels.add(event.room);
        return renderIrc(event, this.#view);
      case "join":
        if (event.nick === this.#nick) {
          // Our own join is shown by the welcome that follows or precedes it.
          return "";
        }
        this.#quitShown.delete(event.nick);
        return renderIrc(event, this.#view) + this.#awayOnJoin(event);
      case "leave":
        if (event.nick === this.#nick) {
          if (!this.#channels.delete(event.room)) return "";
        }
        if (event.reason !== undefined && !event.others) {
          if (this.#quitShown.has(event.nick)) return "";
          // Forgetting old quits at worst shows one twice.
          if (this.#quitShown.size >= 1000) this.#quitShown.clear();
          this.#quitShown.add(event.nick);
        }
        return renderIrc(event, this.#view);
      case "nick": {
        // A rename is announced in every shared room: show it once.
        const key = `${event.ts} ${event.old} ${event.new}`;
        if (key === this.#lastNickChange) return "";
        this.#lastNickChange = key;
        const lines = renderIrc(event, this.#view);
        if (event.old === this.#nick) this.#setNick(event.new);
        return lines;
      }
      case "who":
        return this.#renderWho(event);
      case "part": {
        // The hub's leave notice for ourselves, if it sends one, finds the
        // channel gone and is not shown twice.
        this.#channels.delete(event.room);
        const reason = this.#parting.get(event.room);
        // Put out of the room (a kick or a ban): its KICK was shown.
        if (reason === undefined) return "";
        const channel = channelOf(event.room);
        return formatIrcMessage({
          prefix: memberSource(this.#nick),
          command: "PART",
          params: reason ? [channel, reason] : [channel],
        });
      }
      case "mod":
        return this.#renderMod(event);
      case "bans":
        return banListLines(this.#view, event);
      case "error":
        return this.#renderError(event.code, event.message);
      default:
        return renderIrc(event, this.#view);
    }
  }

  /**
   * away-notify: a member who joins while away is followed by its AWAY, so
   * the channel's list shows it away without a WHO.
   */
  #awayOnJoin(event: Extract<ServerEvent, { type: "join" }>): string {
    if (event.others || !this.#caps.has("away-notify")) return "";
    const away = this.#port.awayOf(event.nick);
    return away === undefined ? "" : awayLine(event.nick, away);
  }

  /** Handles one line from the client. */
  receive(line: string): void {
    const message = parseIrcLine(line);
    if (!message) return;
    if (!this.#registered) return this.#register(message);
    this.#command(message);
  }

  // ---------------------------------------------------------------------------
  // Registration

  #register(message: IrcMessage): void {
    const [first] = message.params;
    switch (message.command) {
      case "CAP":
        return this.#cap(message);
      case "PASS":
        if (first === undefined) {
          return this.#numeric("461", "PASS", "Not enough parameters");
        }
        this.#pass = first;
        return;
      case "NICK": {
        if (first === undefined) {
          return this.#numeric("431", "No nickname given");
        }
        const refusal = this.#port.checkNick(first);
        if (refusal) return this.#nickRefused(first, refusal);
        this.#setNick(first);
        return this.#maybeRegister();
      }
      case "USER":
        // An empty username or realname counts as missing (Modern IRC).
        if (message.params.length < 4 || !first || !message.params[3]) {
          return this.#numeric("461", "USER", "Not enough parameters");
        }
        this.#user = first;
        return this.#maybeRegister();
      case "PING":
        if (!first) return this.#numeric("409", "No origin specified");
        return this.#write({
          prefix: this.#view.server,
          command: "PONG",
          params: [this.#view.server, first],
        });
      case "QUIT":
        return this.#port.quit("quit");
      default:
        return this.#numeric("451", "You have not registered");
    }
  }

  #cap(message: IrcMessage): void {
    const [sub, arg] = message.params;
    const server = this.#view.server;
    switch (sub?.toUpperCase()) {
      case "LS":
        if (!this.#registered) this.#capNegotiating = true;
        return this.#write({
          prefix: server,
          command: "CAP",
          params: [this.#nick, "LS", IRC_CAPABILITIES.join(" ")],
        });
      case "LIST":
        return this.#write({
          prefix: server,
          command: "CAP",
          params: [this.#nick, "LIST", [...this.#caps].join(" ")],
        });
      case "REQ": {
        if (!this.#registered) this.#capNegotiating = true;
        const wanted = (arg ?? "").split(" ").filter((c) => c !== "");
        const known = (c: string) =>
          (IRC_CAPABILITIES as readonly string[]).includes(c.replace(/^-/, ""));
        if (wanted.length === 0 || !wanted.every(known)) {
          return this.#write({
            prefix: server,
            command: "CAP",
            params: [this.#nick, "NAK", arg ?? ""],
          });
        }
        for (const cap of wanted) {
          if (cap.startsWith("-")) {
            this.#caps.delete(cap.slice(1) as IrcCapability);
          } else this.#caps.add(cap as IrcCapability);
        }
        this.#encoder = ircEncoder(this.#view);
        return this.#write({
          prefix: server,
          command: "CAP",
          params: [this.#nick, "ACK", wanted.join(" ")],
        });
      }
      case "END":
        this.#capNegotiating = false;
        return this.#maybeRegister();
      default:
        return this.#numeric("410", sub ?? "", "Invalid CAP command");
    }
  }

  #maybeRegister(): void {
    if (this.#registered || this.#capNegotiating) return;
    if (this.#nick === "*" || this.#user === undefined) return;
    const registered = this.#port.isRegistered?.(this.#nick) ?? false;
    if (
      registered && this.#pass === undefined && !this.#port.needsPassword
    ) {
      // No PASS is no guess (as a JSON hello without one): say what it
      // needs at once, rather than "Password incorrect" a second later.
      this.#numeric(
        "464",
        `${this.#nick} is a registered nickname: its password is needed, as the server password (PASS)`,
      );
      return this.#port.quit("password needed");
    }
    if ((this.#port.needsPassword || registered) && !this.#passwordChecked) {
      return this.#port.checkPassword(
        this.#pass,
        () => {
          this.#passwordChecked = true;
          this.#maybeRegister();
        },
        registered ? this.#nick : undefined,
      );
    }
    // Checked again: someone may have taken the name since NICK.
    const refusal = this.#port.checkNick(this.#nick);
    if (refusal) {
      const nick = this.#nick;
      this.#setNick("*");
      return this.#nickRefused(nick, refusal);
    }
    this.#sendWelcomeBurst();
    this.#registered = true;
    this.#port.register(this.#nick);
  }

  /**
   * The hub refused the registration after all (a race for the nickname,
   * or too many joins from the address): the client may try another NICK.
   */
  registrationFailed(): void {
    this.#registered = false;
    this.#setNick("*");
  }

  #sendWelcomeBurst(): void {
    const server = this.#view.server;
    const created = new Date(this.#port.startedAt).toUTCString();
    this.#numeric(
      "001",
      `Welcome to ${server}, ${memberSource(this.#nick)}`,
    );
    this.#numeric("002", `Your host is ${server}, running chat ${VERSION}`);
    this.#numeric("003", `This server was created ${created}`);
    this.#numeric("004", server, `chat-${VERSION}`, "i", "bmnt");
    this.#numeric(
      "005",
      "CASEMAPPING=ascii",
      "CHANTYPES=#",
      "PREFIX=(ov)@+",
      "CHANMODES=b,,,mnt",
      `NICKLEN=${PROTOCOL_LIMITS.maxNickChars}`,
      `AWAYLEN=${MODERATION_LIMITS.maxReasonChars}`,
      `CHANNELLEN=${PROTOCOL_LIMITS.maxRoomChars + 1}`,
      `NETWORK=${server}`,
      "UTF8ONLY",
      `MODES=${MAX_MODE_CHANGES}`,
      `TARGMAX=JOIN:${MAX_TARGETS},PART:${MAX_TARGETS},KICK:${MAX_TARGETS},PRIVMSG:1,NOTICE:1`,
      "are supported by this server",
    );
    this.#lusers(1);
    // A message of the day, short: some clients and bots treat 422 (none)
    // as an error, and this is where a newcomer learns the rooms are channels.
    this.#numeric("375", `- ${server} message of the day -`);
    for (const line of motdLines(server)) this.#numeric("372", `- ${line}`);
    this.#numeric("376", "End of /MOTD command.");
  }

  /**
   * `251`, `254`, `255`, `265` and `266`: who is here. `joining` counts a
   * client the hub does not have yet (its registration burst).
   */
  #lusers(joining = 0): void {
    const { users, rooms } = this.#port.counts();
    const here = String(users + joining);
    this.#numeric(
      "251",
      `There are ${here} users and 0 invisible on 1 servers`,
    );
    this.#numeric("254", String(rooms), "channels formed");
    this.#numeric("255", `I have ${here} clients and 0 servers`);
    this.#numeric(
      "265",
      `Current local users ${here}, max ${here}`,
    );
    this.#numeric(
      "266",
      `Current global users ${here}, max ${here}`,
    );
  }

  #nickRefused(nick: string, code: ErrorCode): void {
    if (code === "nick_taken") {
      return this.#numeric("433", nick, "Nickname is already in use");
    }
    // The wording says what is wrong (invisible, mixed scripts, …).
    return this.#numeric("432", nick, nickErrorMessage(code, nick));
  }

  #setNick(nick: string): void {
    this.#nick = nick;
    this.#view.nick = nick;
  }

  // ---------------------------------------------------------------------------
  // After registration

  #command(message: IrcMessage): void {
    const [first, second] = message.params;
    switch (message.command) {
      case "PRIVMSG":
      case "NOTICE":
        return this.#privmsg(message);
      case "JOIN":
        if (first === undefined) {
          return this.#numeric("461", "JOIN", "Not enough parameters");
        }
        if (first === "0") {
          for (const room of [...this.#channels]) {
            this.#part(room, "left all channels");
          }
          return;
        }
        for (const channel of first.split(",").slice(0, MAX_TARGETS)) {
          const room = roomOf(channel);
          if (room === undefined) {
            this.#numeric("403", channel, "No such channel");
            continue;
          }
          if (this.#channels.has(room)) continue;
          this.#withTarget(
            "JOIN",
            channel,
            () => this.#port.send({ type: "join", room }),
          );
        }
        return;
      case "PART":
        if (first === undefined) {
          return this.#numeric("461", "PART", "Not enough parameters");
        }
        for (const channel of first.split(",").slice(0, MAX_TARGETS)) {
          const room = roomOf(channel);
          if (room === undefined || !this.#channels.has(room)) {
            this.#numeric("442", channel, "You're not on that channel");
            continue;
          }
          this.#part(room, second ?? "");
        }
        return;
      case "NICK":
        if (first === undefined) {
          return this.#numeric("431", "No nickname given");
        }
        return this.#withTarget(
          "NICK",
          first,
          () => this.#port.send({ type: "nick", nick: first }),
        );
      case "NAMES":
      case "WHO": {
        const room = first === undefined ? undefined : roomOf(first);
        if (room === undefined) {
          if (message.command === "WHO") return this.#whoNick(first ?? "*");
          return this.#numeric("366", first ?? "*", "End of /NAMES list.");
        }
        // A room is seen from inside: of another, the end of an empty list.
        if (!this.#channels.has(room)) {
          return message.command === "WHO"
            ? this.#numeric("315", first!, "End of /WHO list.")
            : this.#numeric("366", first!, "End of /NAMES list.");
        }
        this.#whoReply = {
          kind: message.command === "WHO" ? "who" : "names",
          channel: first!,
        };
        this.#withTarget(
          message.command,
          first!,
          () => this.#port.send({ type: "who", room }),
        );
        this.#whoReply = undefined;
        return;
      }
      case "WHOIS":
        return this.#whois(second ?? first);
      case "LIST":
        return this.#port.send({ type: "rooms" });
      case "TOPIC":
        if (first === undefined) {
          return this.#numeric("461", "TOPIC", "Not enough parameters");
        }
        if (second !== undefined) {
          // The room's pinned notice is its topic: the owner's and admins'.
          const room = roomOf(first);
          if (room === undefined) {
            return this.#numeric("403", first, "No such channel");
          }
          return this.#withTarget(
            "TOPIC",
            first,
            () => this.#port.send({ type: "notice", text: second, room }),
          );
        }
        return this.#topic(first);
      case "MODE":
        return this.#mode(message.params);
      case "KICK":
        return this.#kick(message.params);
      case "REDACT":
        return this.#redact(message.params);
      case "AWAY": {
        const away = first || undefined;
        if (!this.#port.setAway(away)) return;
        return away
          ? this.#numeric("306", "You have been marked as being away")
          : this.#numeric("305", "You are no longer marked as being away");
      }
      case "PING":
        if (!first) return this.#numeric("409", "No origin specified");
        return this.#port.writeAfterPending(formatIrcMessage({
          prefix: this.#view.server,
          command: "PONG",
          params: [this.#view.server, first],
        }));
      case "PONG":
        return; // The door's keepalive saw the line arrive.
      case "CAP":
        return this.#cap(message);
      case "QUIT":
        return this.#port.send({ type: "quit", reason: first ?? "" });
      case "USER":
      case "PASS":
        return this.#numeric("462", "You may not reregister");
      case "LUSERS":
        return this.#lusers();
      case "USERHOST":
        // `-` marks a member who is away, `+` one who is here.
        return this.#numeric(
          "302",
          message.params.filter((n) => this.#port.roomsOf(n)).map((n) =>
            `${n}=${this.#port.awayOf(n) === undefined ? "+" : "-"}${n}@chat`
          ).join(" "),
        );
      case "ISON":
        return this.#numeric(
          "303",
          message.params.flatMap((p) => p.split(" ")).filter((n) =>
            n && this.#port.roomsOf(n)
          ).join(" "),
        );
      default:
        return this.#numeric("421", message.command, "Unknown command");
    }
  }

  #part(room: string, reason: string): void {
    // Shown as PART when the hub says the room is left (its `part`).
    this.#parting.set(room, reason);
    this.#withTarget(
      "PART",
      channelOf(room),
      () => this.#port.send({ type: "part", room }),
    );
    this.#parting.delete(room);
  }

  #privmsg(message: IrcMessage): void {
    const [target, text] = message.params;
    if (target === undefined || text === undefined || text === "") {
      // A NOTICE never draws an automatic reply, these neither.
      if (message.command === "NOTICE") return;
      if (target === undefined) {
        return this.#numeric("411", `No recipient given (${message.command})`);
      }
      return this.#numeric("412", "No text to send");
    }
    const ctcp = text.startsWith("\x01");
    const action = ctcp && text.slice(1, 8).toUpperCase() === "ACTION ";
    if (ctcp && !action) return; // Other CTCP: not supported, not shown.
    const end = text.endsWith("\x01") ? text.length - 1 : text.length;
    const body = action ? text.slice(8, end) : text;
    const room = roomOf(target);
    this.#withTarget(message.command, target, () => {
      if (room !== undefined) {
        this.#port.send(
          { type: action ? "me" : "say", text: body, room },
        );
      } else if (action) {
        this.#port.send({
          type: "dm",
          to: target,
          text: `* ${this.#nick} ${body}`,
        });
      } else this.#port.send({ type: "dm", to: target, text: body });
    });
    // A private message to someone away is answered with why they may not
    // answer; a NOTICE never draws an automatic reply.
    const away = room === undefined && message.command === "PRIVMSG"
      ? this.#port.awayOf(target)
      : undefined;
    if (away !== undefined) this.#numeric("301", target, away);
  }

  #mode(params: string[]): void {
    const [target, modes] = params;
    if (target === undefined) {
      return this.#numeric("461", "MODE", "Not enough parameters");
    }
    const room = roomOf(target);
    if (room === undefined) {
      if (target.toLowerCase() !== this.#nick.toLowerCase()) {
        return this.#numeric("502", "Can't change mode for other users");
      }
      return this.#numeric("221", "+i");
    }
    if (modes === undefined) {
      this.#numeric("324", target, this.#port.mutedAll(room) ? "+mnt" : "+nt");
      return this.#numeric(
        "329",
        target,
        String(Math.floor(this.#port.startedAt / 1000)),
      );
    }
    const list = modes.replace(/^[+]/, "");
    if (list === "b" && params.length === 2) return this.#banList(target, room);
    if (list === "e") {
      return this.#numeric("349", target, "End of channel exception list");
    }
    if (list === "I") {
      return this.#numeric("347", target, "End of channel invite list");
    }
    this.#changeModes(target, room, modes, params.slice(2));
  }

  /**
   * `MODE #chan +b nick`, `-b`, `+o`/`-o nick`, `+m`/`-m`: the hub's `ban`,
   * `unban`, `op`/`deop` and `muteall`, which check the client's role; a
   * refusal is `482`. `n` and `t` are always on; other modes get `472`.
   */
  #changeModes(
    channel: string,
    room: string,
    modes: string,
    args: string[],
  ): void {
    let adding = true;
    let next = 0;
    let changes = 0;
    const send = (frame: CommandFrame, nick?: string) =>
      this.#withTarget("MODE", channel, () => this.#port.send(frame), nick);
    for (const char of modes) {
      if (char === "+" || char === "-") {
        adding = char === "+";
        continue;
      }
      if (changes++ >= MAX_MODE_CHANGES) break;
      switch (char) {
        case "b": {
          const mask = args[next++];
          if (mask === undefined) {
            if (adding) this.#banList(channel, room);
            continue;
          }
          const nick = nickOfMask(mask) ??
            (adding ? this.#memberMatching(channel, room, mask) : undefined);
          if (nick === undefined) {
            if (!adding) {
              this.#notice(
                `${channel}: bans here are by nickname: MODE ${channel} -b NICK`,
              );
            }
            continue;
          }
          send({ type: adding ? "ban" : "unban", nick, room }, nick);
          continue;
        }
        case "o": {
          const nick = args[next++];
          if (nick === undefined) {
            this.#numeric("461", "MODE", "Not enough parameters");
            continue;
          }
          send({ type: adding ? "op" : "deop", nick, room }, nick);
          continue;
        }
        case "m":
          send({ type: "muteall", on: adding, room });
          continue;
        case "n":
        case "t":
          continue; // Always on: nothing to change.
        case "v":
          next++;
          this.#numeric("472", char, "is unknown mode char to me");
          continue;
        default:
          this.#numeric("472", char, "is unknown mode char to me");
      }
    }
  }

  /**
   * The one member of the channel a ban mask by host matches (irssi's
   * `/ban bob` sends `*!*bob@chat`): every member is `nick!nick@chat`. None
   * or several are said so in a notice.
   */
  #memberMatching(
    channel: string,
    room: string,
    mask: string,
  ): string | undefined {
    const matches = this.#port.membersOf(room).filter((nick) =>
      maskMatches(mask, memberSource(nick))
    );
    if (matches.length === 1) return matches[0];
    this.#notice(
      matches.length === 0
        ? `${channel}: no one here matches ${mask}`
        : `${channel}: ${mask} matches ${matches.length} people here: ban by nickname (MODE ${channel} +b NICK)`,
    );
    return undefined;
  }

  /** The ban list: the hub's, for the owner and admins; empty for others. */
  #banList(channel: string, room: string): void {
    if (this.#port.roleIn(room) === undefined) {
      return this.#numeric("368", channel, "End of channel ban list");
    }
    this.#withTarget(
      "MODE",
      channel,
      () => this.#port.send({ type: "bans", room }),
    );
  }

  /** `KICK #chan nick[,nick] [:reason]`: the hub's `kick`, role-checked. */
  #kick(params: string[]): void {
    const [channel, nicks, reason] = params;
    if (channel === undefined || nicks === undefined) {
      return this.#numeric("461", "KICK", "Not enough parameters");
    }
    const room = roomOf(channel);
    if (room === undefined) {
      return this.#numeric("403", channel, "No such channel");
    }
    for (const nick of nicks.split(",").slice(0, MAX_TARGETS)) {
      if (nick === "") continue;
      this.#withTarget("KICK", channel, () =>
        this.#port.send(
          reason ? { type: "kick", nick, reason, room } : {
            type: "kick",
            nick,
            room,
          },
        ), nick);
    }
  }

  /** `TOPIC #chan`: the room's pinned notice, for a member of it. */
  #topic(channel: string): void {
    const room = roomOf(channel);
    if (room === undefined) {
      return this.#numeric("403", channel, "No such channel");
    }
    if (!this.#channels.has(room)) {
      return this.#numeric("442", channel, "You're not on that channel");
    }
    this.#port.write(topicLines(this.#view, room, this.#port.noticeOf(room)));
  }

  /**
   * `REDACT #chan msgid [:reason]` (IRCv3 draft/message-redaction) is the
   * hub's `recall` of that message, by the same rules as `/recall`: one's
   * own within the window, anyone's for the owner and admins. Refusals are
   * the spec's `FAIL REDACT` replies ({@linkcode #renderError}). Private
   * messages are not kept, so there is nothing to redact in them.
   */
  #redact(params: string[]): void {
    const [target, msgid] = params;
    if (target === undefined || msgid === undefined) {
      return this.#numeric("461", "REDACT", "Not enough parameters");
    }
    const room = roomOf(target);
    if (room === undefined) {
      return this.#fail(
        "INVALID_TARGET",
        [target],
        "private messages are not kept, so they cannot be redacted",
      );
    }
    if (!/^\d{1,15}$/.test(msgid)) {
      return this.#fail(
        "UNKNOWN_MSGID",
        [target, msgid],
        "This message does not exist or is too old",
      );
    }
    this.#withTarget(
      "REDACT",
      target,
      () => this.#port.send({ type: "recall", id: Number(msgid), room }),
      msgid,
    );
  }

  /** An IRCv3 standard reply: `FAIL REDACT CODE context… :description`. */
  #failLine(code: string, context: string[], description: string): string {
    return formatIrcMessage({
      prefix: this.#view.server,
      command: "FAIL",
      params: ["REDACT", code, ...context, description],
    });
  }

  #fail(code: string, context: string[], description: string): void {
    this.#port.write(this.#failLine(code, context, description));
  }

  /**
   * A moderation action as IRC shows it: a kick as `KICK`, a ban as
   * `MODE +b` and, if its target was in the room, `KICK`; an unban as
   * `MODE -b`, `op`/`deop` as `MODE +o`/`-o`, `muteall` as `MODE +m`/`-m`;
   * the rest (mutes) as a notice to the channel in the server's words.
   */
  #renderMod(event: Extract<ServerEvent, { type: "mod" }>): string {
    const inRoom = event.nick !== undefined &&
      (this.#port.roomsOf(event.nick) ?? []).includes(event.room);
    return modLines(event, this.#view, inRoom);
  }

  #whois(nick: string | undefined): void {
    if (nick === undefined) return this.#numeric("431", "No nickname given");
    const rooms = this.#port.roomsOf(nick);
    if (rooms === undefined) {
      this.#numeric("401", nick, "No such nick/channel");
      return this.#numeric("318", nick, "End of /WHOIS list.");
    }
    this.#numeric("311", nick, nick, "chat", "*", nick);
    if (rooms.length > 0) {
      this.#numeric("319", nick, rooms.map(channelOf).join(" "));
    }
    this.#numeric("312", nick, this.#view.server, "chat");
    const away = this.#port.awayOf(nick);
    if (away !== undefined) this.#numeric("301", nick, away);
    this.#numeric("318", nick, "End of /WHOIS list.");
  }

  #whoNick(mask: string): void {
    if (this.#port.roomsOf(mask) !== undefined) {
      this.#numeric(
        "352",
        "*",
        mask,
        "chat",
        this.#view.server,
        mask,
        this.#hereOrGone(mask),
        `0 ${mask}`,
      );
    }
    this.#numeric("315", mask, "End of /WHO list.");
  }

  #renderWho(event: Extract<ServerEvent, { type: "who" }>): string {
    const reply = this.#whoReply;
    const channel = reply?.channel ?? channelOf(event.room);
    if (reply?.kind !== "who") {
      return namesLines(
        this.#view,
        event.room,
        withOps(event.users, event.roles),
      );
    }
    let lines = "";
    for (const nick of event.users) {
      // WHO's flags: here or gone, and `@` for the room's owner and admins.
      const op = event.roles?.[nick] ? "@" : "";
      lines += this.#numericLine(
        "352",
        channel,
        nick,
        "chat",
        this.#view.server,
        nick,
        this.#hereOrGone(nick) + op,
        `0 ${nick}`,
      );
    }
    return lines + this.#numericLine("315", channel, "End of /WHO list.");
  }

  /** WHO's flag: `H` for a member who is here, `G` for one gone away. */
  #hereOrGone(nick: string): string {
    return this.#port.awayOf(nick) === undefined ? "H" : "G";
  }

  #renderError(code: ErrorCode, message: string): string {
    const target = this.#target;
    // A NOTICE never draws an automatic reply (RFC 2812 3.3.2), not even
    // an error: bots answer notices with notices, and loops start so.
    if (target?.command === "NOTICE") return "";
    if (target?.command === "REDACT") {
      const context = [target.name, target.nick ?? "*"];
      switch (code) {
        case "not_allowed":
          return this.#failLine("REDACT_FORBIDDEN", context, message);
        case "recall_expired":
          return this.#failLine(
            "REDACT_WINDOW_EXPIRED",
            [...context, String(RECALL_WINDOW_SECONDS)],
            message,
          );
        case "no_such_message":
          return this.#failLine("UNKNOWN_MSGID", context, message);
        case "not_in_room":
          return this.#failLine("INVALID_TARGET", [target.name], message);
      }
    }
    const moderating = target?.command === "KICK" ||
      target?.command === "MODE" || target?.command === "TOPIC";
    if (moderating && code === "not_allowed") {
      // The server's wording says why: not staff, the owner, oneself.
      return this.#numericLine("482", target.name, message);
    }
    if (moderating && code === "no_such_user" && target.nick !== undefined) {
      return / is not in /.test(message)
        ? this.#numericLine("441", target.nick, target.name, message)
        : this.#numericLine("401", target.nick, "No such nick/channel");
    }
    if (code === "banned" && target?.command === "JOIN") {
      return this.#numericLine("474", target.name, message);
    }
    if (moderating && code === "not_in_room") {
      return this.#numericLine(
        "442",
        target.name,
        "You're not on that channel",
      );
    }
    switch (code) {
      case "nick_taken":
        return this.#numericLine(
          "433",
          target?.name ?? "*",
          "Nickname is already in use",
        );
      case "nick_invalid":
        return this.#numericLine("432", target?.name ?? "*", message);
      case "no_such_user":
        return this.#numericLine(
          "401",
          target?.name ?? "*",
          "No such nick/channel",
        );
      case "room_invalid":
        return this.#numericLine("479", target?.name ?? "*", message);
      case "bad_password":
        return this.#numericLine("464", "Password incorrect");
      default:
        if (
          target &&
          (target.command === "PRIVMSG" || target.command === "NOTICE")
        ) {
          return this.#numericLine("404", target.name, message);
        }
        return renderIrc({ type: "error", code, message }, this.#view);
    }
  }

  #withTarget(
    command: string,
    name: string,
    run: () => void,
    nick?: string,
  ): void {
    this.#target = { command, name, nick };
    try {
      run();
    } finally {
      this.#target = undefined;
    }
  }

  #numericLine(code: string, ...params: string[]): string {
    return formatIrcMessage({
      prefix: this.#view.server,
      command: code,
      params: [this.#nick, ...params],
    });
  }

  #notice(text: string): void {
    this.#write({
      prefix: this.#view.server,
      command: "NOTICE",
      params: [this.#nick, text],
    });
  }

  #numeric(code: string, ...params: string[]): void {
    this.#port.write(this.#numericLine(code, ...params));
  }

  #write(message: IrcMessage): void {
    this.#port.write(formatIrcMessage(message));
  }
}

/** The message of the day: what an IRC user needs to know here. */
function motdLines(server: string): string[] {
  return [
    `Welcome to ${server}, a chat server (chat ${VERSION}).`,
    "Its rooms are channels: you are in the lobby; /join #room for another.",
    "People here may use chat connect, nc or a browser; they see you too.",
  ];
}
