/**
 * Running a group: who may do what in a room (the owner, its admins, everyone
 * else), accounts, mutes, kicks and bans. The hub asks it before a member
 * speaks or enters a room and hands it every account and moderation frame;
 * it answers through a {@linkcode GroupHost}, so it never touches sockets.
 *
 * Roles: an account's server-wide role (`owner` or `admin`, set with
 * `chat account add --role`), else an admin of one room by `/op`. A guest
 * (unregistered nickname) is always an ordinary member.
 *
 * Who is held by a restriction: a registered member by its account; a guest
 * by its nickname (mutes) or its address (bans, so a new name does not get
 * it back in). Address bans hold guests only: registered members sharing a
 * school's address are not shut out with the guest.
 *
 * @module
 */

import {
  errorEvent,
  type ModerationActionName,
  type ModerationFrame,
  type PinnedNotice,
  type RoomRole,
  type ServerEvent,
} from "../../protocol.ts";
import { type CommandRole, roleNeeded } from "../shared/commands.ts";
import { formatDuration } from "../shared/duration.ts";
import { MODERATION_LIMITS } from "../shared/limits.ts";
import { clockTime, searchTime } from "../shared/text_dialect.ts";
import { cleanText, nickKey } from "../shared/sanitize.ts";
import { type Account, type Accounts, passwordProblem } from "./accounts.ts";
import type { ModerationBook, Restriction } from "./moderation_book.ts";
import type { FrameHandlers } from "./command_handlers.ts";

/** What a member looks like to the rules; the hub's `Session` is one. */
export interface GroupMember {
  nick: string;
  readonly rooms: Set<string>;
  room: string | undefined;
  /** The registered nickname it signed in with, if any. */
  account?: string;
  /** Its address (an IP), for bans of guests. */
  address?: string;
  send(event: ServerEvent): void;
}

/** What the rules need from the hub. */
export interface GroupHost<Member extends GroupMember> {
  /** The connected member with this nickname. */
  findMember(nick: string): Member | undefined;
  /** Sends an event to every member of a room. */
  broadcast(room: string, event: ServerEvent): void;
  /** Takes a member out of a room without a leave notice, telling it (`part`). */
  removeFromRoom(member: Member, room: string): void;
  now(): number;
  log(line: string): void;
}

const RANK = { everyone: 0, admin: 1, owner: 2 } as const;

/** The frames the rules answer: accounts and moderation, but `recall`. */
export type RulesFrameType = Exclude<ModerationFrame["type"], "recall">;

/** A room's mutes held in memory: asked on every message, so no SQL then. */
interface RoomMutes {
  mutes: Map<string, Restriction>;
  all: boolean;
}

/** Who the rules act on: a connected member, a registered account, or both. */
interface Target<Member> {
  nick: string;
  member?: Member;
  account?: Account;
}

/** The group's rules over its accounts and moderation tables. */
export class GroupRules<Member extends GroupMember> {
  #accounts: Accounts;
  #book: ModerationBook;
  #host: GroupHost<Member>;
  /** Each room's members who are its owner or admins. */
  #staff = new Map<string, Map<Member, RoomRole>>();
  #mutes = new Map<string, RoomMutes>();

  /** Rules over these tables, acting through `host`. */
  constructor(
    accounts: Accounts,
    book: ModerationBook,
    host: GroupHost<Member>,
  ) {
    this.#accounts = accounts;
    this.#book = book;
    this.#host = host;
  }

  /** The accounts, for the doors' logins. */
  get accounts(): Accounts {
    return this.#accounts;
  }

  /** `member`'s role in `room`, or `undefined` for an ordinary member. */
  roleIn(member: GroupMember, room: string | undefined): RoomRole | undefined {
    if (member.account === undefined) return undefined;
    const account = this.#accounts.find(member.account);
    return account && room !== undefined
      ? this.#accountRole(account, room)
      : account?.role === "owner"
      ? "owner"
      : undefined;
  }

  /** The owner and admins among a room's members, by nickname. */
  rolesOf(room: string): Record<string, RoomRole> | undefined {
    const staff = this.#staff.get(room);
    if (!staff || staff.size === 0) return undefined;
    const roles: Record<string, RoomRole> = {};
    for (const [member, role] of staff) roles[member.nick] = role;
    return roles;
  }

  /** The room's pinned notice, if one is set. */
  noticeOf(room: string): PinnedNotice | undefined {
    return this.#book.notice(room);
  }

  /** True when `member` may recall anyone's message in `room`. */
  mayRecallAny(member: GroupMember, room: string): boolean {
    return this.roleIn(member, room) !== undefined;
  }

  /** Logs and stores a recall: who took back whose message, and when. */
  recalled(by: string, room: string, id: number, nick: string): void {
    this.#host.log(`recall ${room} #${id} of ${nick} by ${by}`);
    this.#book.record({
      ts: this.#host.now(),
      room,
      action: "recall",
      by,
      target: nick,
      detail: `#${id}`,
    });
  }

  /** True while only the owner and admins may speak in `room`. */
  isMutedAll(room: string): boolean {
    return this.#roomMutes(room).all;
  }

  /** Called by the hub when `member` has entered `room`; its role there. */
  entered(member: Member, room: string): RoomRole | undefined {
    const role = this.roleIn(member, room);
    if (role) this.#setStaff(member, room, role);
    return role;
  }

  /** Called by the hub when `member` has left `room`. */
  left(member: Member, room: string): void {
    const staff = this.#staff.get(room);
    if (!staff?.delete(member)) return;
    if (staff.size === 0) this.#staff.delete(room);
  }

  /**
   * The first room where guest `member` is muted, if any: a muted guest
   * keeps its nickname, since its mute is held by that name.
   */
  mutedRoomOf(member: GroupMember): string | undefined {
    if (member.account !== undefined) return undefined;
    const key = this.#muteKey(member.nick, undefined);
    for (const room of member.rooms) {
      const mute = this.#roomMutes(room).mutes.get(key);
      if (mute && (mute.until === 0 || mute.until > this.#host.now())) {
        return room;
      }
    }
    return undefined;
  }

  /** Called by the hub when `room` has no members left: forget its mutes (kept in the db). */
  closed(room: string): void {
    this.#mutes.delete(room);
  }

  /** The refusal when `member` may not enter `room` (it is banned), else `undefined`. */
  entryRefusal(member: GroupMember, room: string): ServerEvent | undefined {
    const targets = member.account !== undefined
      ? [`account:${nickKey(member.account)}`]
      : member.address !== undefined
      ? [`address:${member.address}`]
      : [];
    const ban = this.#book.find("ban", room, targets);
    if (!ban) return undefined;
    return errorEvent("banned", this.#banWording(room, ban));
  }

  /**
   * "you are banned from lobby by olga for 2 hours more, until 15:04
   * (spam)": the room, who, how long and why, so the member knows what
   * keeps it out and until when, in every door.
   */
  #banWording(room: string, ban: Restriction): string {
    const now = this.#host.now();
    let length = ", for ever";
    if (ban.until !== 0) {
      // A ban ending tomorrow or later names its day as well as its time.
      const when = ban.until - now < 20 * 3_600_000
        ? clockTime(ban.until)
        : searchTime(ban.until);
      length = `${this.#timeLeft(ban.until)}, until ${when}`;
    }
    return `you are banned from ${room} by ${ban.by}${length}${
      ban.reason ? ` (${ban.reason})` : ""
    }`;
  }

  /** The refusal when `member` may not speak in `room` now, else `undefined`. */
  speechRefusal(member: GroupMember, room: string): ServerEvent | undefined {
    const state = this.#roomMutes(room);
    if (state.mutes.size === 0 && !state.all) return undefined;
    if (this.roleIn(member, room)) return undefined;
    const key = this.#muteKey(member.nick, member.account);
    const mute = state.mutes.get(key);
    if (mute && mute.until !== 0 && mute.until <= this.#host.now()) {
      state.mutes.delete(key);
      this.#book.lift("mute", room, key);
    } else if (mute) {
      return errorEvent(
        "muted",
        `you are muted in ${room}${
          this.#timeLeft(mute.until)
        } (by ${mute.by}): you may read but not speak`,
      );
    }
    if (state.all) {
      return errorEvent(
        "muted",
        `everyone is muted in ${room}: only its owner and admins may speak for now`,
      );
    }
    return undefined;
  }

  /**
   * The rules' answer to each account and moderation frame from a member
   * (`recall` is the hub's: it needs the store); the hub adds them to its
   * own table (src/server/command_handlers.ts).
   */
  readonly handlers: FrameHandlers<Member, RulesFrameType> = {
    register: (member, frame) => this.#register(member, frame.password),
    password: (member, frame) =>
      this.#changePassword(member, frame.old, frame.new),
    notice: (member, frame) => {
      if (frame.text === undefined) {
        const room = this.#roomOf(member, frame);
        if (room !== undefined) this.#showNotice(member, room);
        return;
      }
      // Showing it is everyone's (the registry's role); pinning is staff's.
      const staff = this.#asStaff(member, frame, "admin");
      if (staff) this.#pinNotice(member, staff.room, frame.text);
    },
    bans: (member, frame) => {
      const staff = this.#asStaff(member, frame);
      if (staff) this.#listBans(member, staff.room);
    },
    muteall: (member, frame) => {
      const staff = this.#asStaff(member, frame);
      if (staff) this.#muteAll(member, staff.room, frame.on);
    },
    op: (member, frame) => {
      const act = this.#onMember(member, frame);
      if (act) this.#op(member, act.room, act.target, true);
    },
    deop: (member, frame) => {
      const act = this.#onMember(member, frame);
      if (act) this.#op(member, act.room, act.target, false);
    },
    mute: (member, frame) => {
      const act = this.#onLowerMember(member, frame);
      if (act) this.#mute(member, act.room, act.target, frame.seconds);
    },
    unmute: (member, frame) => {
      const act = this.#onLowerMember(member, frame, true);
      if (act) this.#unmute(member, act.room, act.target);
    },
    kick: (member, frame) => {
      const act = this.#onLowerMember(member, frame);
      if (act) this.#kick(member, act.room, act.target, frame.reason);
    },
    ban: (member, frame) => {
      const act = this.#onLowerMember(member, frame);
      if (act) {
        this.#ban(member, act.room, act.target, frame.seconds, frame.reason);
      }
    },
    unban: (member, frame) => {
      const act = this.#onLowerMember(member, frame, true);
      if (act) this.#unban(member, act.room, act.target);
    },
  };

  /**
   * The room a frame acts in (default: the member's current one), or
   * `undefined` after telling the member it is not in it.
   */
  #roomOf(member: Member, frame: { room?: string }): string | undefined {
    const room = frame.room?.trim() || member.room;
    if (room === undefined || !member.rooms.has(room)) {
      member.send(errorEvent(
        "not_in_room",
        room === undefined
          ? "you are in no room: /join ROOM first"
          : `you are not in ${cleanText(room).slice(0, 40)} (/join it first)`,
      ));
      return undefined;
    }
    return room;
  }

  /**
   * The room and the member's role there when its role is at least
   * `needed`, or `undefined` after telling it why not.
   */
  #asStaff(
    member: Member,
    frame: { type: RulesFrameType; room?: string },
    needed: CommandRole = roleNeeded(frame.type),
  ): { room: string; role: RoomRole } | undefined {
    const room = this.#roomOf(member, frame);
    if (room === undefined) return undefined;
    const role = this.roleIn(member, room);
    if (RANK[role ?? "everyone"] < RANK[needed]) {
      member.send(errorEvent(
        "not_allowed",
        needed === "owner"
          ? `only the owner may /${frame.type}`
          : `only the owner and admins of ${room} may /${frame.type}`,
      ));
      return undefined;
    }
    return { room, role: role! };
  }

  /**
   * {@linkcode #asStaff} (with the role the frame's command needs, from the
   * command registry), and the member the frame names: connected or
   * registered, or for `lifting` any name (a guest's ban or mute is found
   * by the name it was given to, with no one connected). Never oneself.
   */
  #onMember(
    member: Member,
    frame: { type: RulesFrameType; nick: string; room?: string },
    lifting = false,
  ): { room: string; role: RoomRole; target: Target<Member> } | undefined {
    const staff = this.#asStaff(member, frame);
    if (!staff) return undefined;
    const target = this.#target(frame.nick) ??
      (lifting ? { nick: cleanText(frame.nick.trim()) } : undefined);
    if (!target) {
      member.send(errorEvent(
        "no_such_user",
        `no one is called ${cleanText(frame.nick.trim()).slice(0, 40)}`,
      ));
      return undefined;
    }
    if (target.member === member) {
      member.send(
        errorEvent("not_allowed", `you cannot /${frame.type} yourself`),
      );
      return undefined;
    }
    return { ...staff, target };
  }

  /**
   * {@linkcode #onMember} for an admin's action, on a member who ranks
   * below the actor: an admin cannot act on the owner or another admin.
   */
  #onLowerMember(
    member: Member,
    frame: { type: RulesFrameType; nick: string; room?: string },
    lifting = false,
  ): { room: string; role: RoomRole; target: Target<Member> } | undefined {
    const act = this.#onMember(member, frame, lifting);
    if (!act) return undefined;
    const targetRole = act.target.account
      ? this.#accountRole(act.target.account, act.room)
      : undefined;
    if (RANK[targetRole ?? "everyone"] >= RANK[act.role]) {
      member.send(errorEvent(
        "not_allowed",
        `an admin cannot /${frame.type} the owner or another admin`,
      ));
      return undefined;
    }
    return act;
  }

  /** Shows the room's pinned notice to `member`, or says there is none. */
  #showNotice(member: Member, room: string): void {
    const notice = this.#book.notice(room);
    if (!notice) {
      return member.send({
        type: "info",
        text: `${room} has no pinned notice`,
      });
    }
    member.send({ type: "notice", room, ...notice });
  }

  // -------------------------------------------------------------------------
  // Accounts

  #register(member: Member, password: string): void {
    if (member.account !== undefined) {
      return member.send(errorEvent(
        "already_registered",
        `you are signed in as ${member.account} already`,
      ));
    }
    if (
      this.#accounts.find(member.nick) || this.#accounts.lookalike(member.nick)
    ) {
      return member.send(errorEvent("already_registered"));
    }
    const problem = passwordProblem(password);
    if (problem) return member.send(errorEvent("password_invalid", problem));
    this.#accounts.add(member.nick, password, "member", this.#host.now());
    member.account = member.nick;
    this.#host.log(`register ${member.nick}`);
    member.send({
      type: "info",
      text:
        `${member.nick} is registered: from now on this nickname needs its password`,
    });
  }

  #changePassword(member: Member, old: string, fresh: string): void {
    if (member.account === undefined) {
      return member.send(errorEvent("not_registered"));
    }
    if (!this.#accounts.verify(member.account, old)) {
      return member.send(
        errorEvent("bad_password", "that is not your current password"),
      );
    }
    const problem = passwordProblem(fresh);
    if (problem) return member.send(errorEvent("password_invalid", problem));
    this.#accounts.setPassword(member.account, fresh);
    this.#host.log(`password ${member.account}`);
    member.send({ type: "info", text: "your password is changed" });
  }

  // -------------------------------------------------------------------------
  // Moderation

  #op(actor: Member, room: string, target: Target<Member>, op: boolean): void {
    const account = target.account;
    if (!account) {
      return actor.send(errorEvent(
        "not_registered",
        `${target.nick} is not registered: only a registered member can be an admin`,
      ));
    }
    if (account.role !== "member") {
      return actor.send(errorEvent(
        "not_allowed",
        `${account.nick} is ${
          account.role === "owner" ? "the owner" : "an admin of every room"
        } (chat account sets that)`,
      ));
    }
    this.#book.setRoomAdmin(room, `account:${nickKey(account.nick)}`, op);
    const member = target.member;
    if (member?.rooms.has(room)) {
      if (op) this.#setStaff(member, room, "admin");
      else this.left(member, room);
    }
    this.#announce(actor, room, op ? "op" : "deop", target.nick, {
      text: op
        ? `${target.nick} is now an admin of ${room} (by ${actor.nick})`
        : `${target.nick} is no longer an admin of ${room} (by ${actor.nick})`,
    });
  }

  #mute(
    actor: Member,
    room: string,
    target: Target<Member>,
    seconds: number | undefined,
  ): void {
    const ms = seconds === undefined
      ? MODERATION_LIMITS.defaultMuteMs
      : seconds * 1000;
    if (ms <= 0 || ms > MODERATION_LIMITS.maxDurationMs) {
      return actor.send(this.#badDuration());
    }
    const key = this.#muteKey(target.nick, target.account?.nick);
    const mute: Restriction = {
      kind: "mute",
      room,
      target: key,
      nick: target.nick,
      until: this.#host.now() + ms,
      by: actor.nick,
      reason: "",
    };
    this.#book.put(mute);
    this.#roomMutes(room).mutes.set(key, mute);
    this.#announce(actor, room, "mute", target.nick, {
      seconds: Math.round(ms / 1000),
      text: `${target.nick} was muted for ${
        formatDuration(ms)
      } by ${actor.nick}`,
    });
  }

  #unmute(actor: Member, room: string, target: Target<Member>): void {
    const key = this.#muteKey(target.nick, target.account?.nick);
    this.#roomMutes(room).mutes.delete(key);
    if (!this.#book.lift("mute", room, key)) {
      return actor.send({ type: "info", text: `${target.nick} is not muted` });
    }
    this.#announce(actor, room, "unmute", target.nick, {
      text: `${target.nick} was unmuted by ${actor.nick}`,
    });
  }

  #muteAll(actor: Member, room: string, on: boolean): void {
    this.#book.setMutedAll(room, on);
    this.#roomMutes(room).all = on;
    this.#announce(actor, room, "muteall", undefined, {
      on,
      text: on
        ? `${actor.nick} muted everyone: only the owner and admins may speak in ${room}`
        : `${actor.nick} let everyone speak again in ${room}`,
    });
  }

  #pinNotice(actor: Member, room: string, raw: string): void {
    const text = cleanText(raw).trim();
    if ([...text].length > MODERATION_LIMITS.maxNoticeChars) {
      return actor.send(errorEvent(
        "text_too_long",
        `a notice is at most ${MODERATION_LIMITS.maxNoticeChars} characters`,
      ));
    }
    const notice = { text, by: actor.nick, ts: this.#host.now() };
    this.#book.setNotice(room, notice);
    this.#book.record({
      ts: notice.ts,
      room,
      action: text === "" ? "unnotice" : "notice",
      by: actor.nick,
      target: "",
      detail: "",
    });
    this.#host.log(
      `mod ${room} ${
        text === "" ? "notice cleared" : "notice set"
      } by ${actor.nick}`,
    );
    this.#host.broadcast(room, { type: "notice", room, ...notice });
  }

  #kick(
    actor: Member,
    room: string,
    target: Target<Member>,
    rawReason: string | undefined,
  ): void {
    const member = target.member;
    if (!member?.rooms.has(room)) {
      return actor.send(errorEvent(
        "no_such_user",
        `${target.nick} is not in ${room}`,
      ));
    }
    const reason = this.#reason(rawReason);
    this.#announce(actor, room, "kick", target.nick, {
      reason,
      text: `${target.nick} was kicked by ${actor.nick}${
        reason ? ` (${reason})` : ""
      }`,
    });
    this.#host.removeFromRoom(member, room);
  }

  #ban(
    actor: Member,
    room: string,
    target: Target<Member>,
    seconds: number | undefined,
    rawReason: string | undefined,
  ): void {
    const ms = seconds === undefined ? 0 : seconds * 1000;
    if (
      seconds !== undefined && (ms <= 0 || ms > MODERATION_LIMITS.maxDurationMs)
    ) {
      return actor.send(this.#badDuration());
    }
    const key = this.#banKey(target);
    if (key === undefined) {
      return actor.send(errorEvent(
        "no_such_user",
        `${target.nick} is not connected and not registered`,
      ));
    }
    const reason = this.#reason(rawReason);
    this.#book.put({
      kind: "ban",
      room,
      target: key,
      nick: target.nick,
      until: ms === 0 ? 0 : this.#host.now() + ms,
      by: actor.nick,
      reason,
    });
    this.#announce(actor, room, "ban", target.nick, {
      seconds: ms === 0 ? undefined : Math.round(ms / 1000),
      reason,
      text: `${target.nick} was banned${
        ms === 0 ? "" : ` for ${formatDuration(ms)}`
      } by ${actor.nick}${reason ? ` (${reason})` : ""}`,
    });
    const member = target.member;
    if (member?.rooms.has(room)) this.#host.removeFromRoom(member, room);
  }

  #unban(actor: Member, room: string, target: Target<Member>): void {
    const keys = [this.#banKey(target)].filter((k) => k !== undefined);
    // A guest who is gone: its ban is found by the name it was given to.
    const byName = this.#book.list("ban", room, Number.MAX_SAFE_INTEGER)
      .filter((b) => nickKey(b.nick) === nickKey(target.nick))
      .map((b) => b.target);
    let lifted = false;
    for (const key of new Set([...keys, ...byName])) {
      if (this.#book.lift("ban", room, key)) lifted = true;
    }
    if (!lifted) {
      return actor.send({
        type: "info",
        text: `${target.nick} is not banned from ${room}`,
      });
    }
    this.#announce(actor, room, "unban", target.nick, {
      text: `${target.nick} was unbanned by ${actor.nick}`,
    });
  }

  #listBans(member: Member, room: string): void {
    const bans = this.#book.list("ban", room, MODERATION_LIMITS.bansListed)
      .map((b) => {
        const entry: {
          nick: string;
          by: string;
          until?: number;
          reason?: string;
        } = {
          nick: b.nick,
          by: b.by,
        };
        if (b.until !== 0) entry.until = b.until;
        if (b.reason) entry.reason = b.reason;
        return entry;
      });
    member.send({ type: "bans", room, bans });
  }

  // -------------------------------------------------------------------------

  #announce(
    actor: Member,
    room: string,
    action: ModerationActionName,
    nick: string | undefined,
    details: { text: string; seconds?: number; reason?: string; on?: boolean },
  ): void {
    const ts = this.#host.now();
    const event: ServerEvent = {
      type: "mod",
      ts,
      room,
      action,
      by: actor.nick,
      text: details.text,
    };
    if (nick !== undefined) event.nick = nick;
    if (details.seconds !== undefined) event.seconds = details.seconds;
    if (details.reason) event.reason = details.reason;
    if (details.on !== undefined) event.on = details.on;
    const detail = [
      details.seconds !== undefined ? `${details.seconds}s` : "",
      details.on !== undefined ? (details.on ? "on" : "off") : "",
      details.reason ? `reason=${JSON.stringify(details.reason)}` : "",
    ].filter((d) => d !== "").join(" ");
    this.#book.record({
      ts,
      room,
      action,
      by: actor.nick,
      target: nick ?? "",
      detail,
    });
    this.#host.log(
      `mod ${room} ${action}${nick ? ` ${nick}` : ""} by ${actor.nick}${
        detail ? ` ${detail}` : ""
      }`,
    );
    this.#host.broadcast(room, event);
  }

  #target(rawNick: string): Target<Member> | undefined {
    const nick = rawNick.trim();
    const member = this.#host.findMember(nick);
    const account = member
      ? (member.account === undefined
        ? undefined
        : this.#accounts.find(member.account))
      : this.#accounts.find(nick);
    if (!member && !account) return undefined;
    return { nick: member?.nick ?? account!.nick, member, account };
  }

  #accountRole(account: Account, room: string): RoomRole | undefined {
    if (account.role === "owner") return "owner";
    if (account.role === "admin") return "admin";
    return this.#book.isRoomAdmin(room, `account:${nickKey(account.nick)}`)
      ? "admin"
      : undefined;
  }

  #setStaff(member: Member, room: string, role: RoomRole): void {
    let staff = this.#staff.get(room);
    if (!staff) this.#staff.set(room, staff = new Map());
    staff.set(member, role);
  }

  #muteKey(nick: string, account: string | undefined): string {
    return account !== undefined
      ? `account:${nickKey(account)}`
      : `nick:${nickKey(nick)}`;
  }

  #banKey(target: Target<Member>): string | undefined {
    if (target.account) return `account:${nickKey(target.account.nick)}`;
    const address = target.member?.address;
    return address === undefined ? undefined : `address:${address}`;
  }

  #roomMutes(room: string): RoomMutes {
    let state = this.#mutes.get(room);
    if (!state) {
      const mutes = new Map<string, Restriction>();
      for (
        const mute of this.#book.list("mute", room, Number.MAX_SAFE_INTEGER)
      ) {
        mutes.set(mute.target, mute);
      }
      state = { mutes, all: this.#book.isMutedAll(room) };
      this.#mutes.set(room, state);
    }
    return state;
  }

  #reason(raw: string | undefined): string {
    return cleanText((raw ?? "").slice(0, MODERATION_LIMITS.maxReasonChars))
      .trim();
  }

  #timeLeft(until: number): string {
    if (until === 0) return "";
    return ` for ${
      formatDuration(Math.max(1000, until - this.#host.now()))
    } more`;
  }

  #badDuration(): ServerEvent {
    return errorEvent(
      "bad_frame",
      `a duration is like 30s, 10m, 2h or 7d, at most ${
        formatDuration(MODERATION_LIMITS.maxDurationMs)
      }`,
    );
  }
}
