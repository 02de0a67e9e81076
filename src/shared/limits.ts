/**
 * Every limit and default of the server and client, in one place.
 *
 * `--help`, the README's "Limits and safety" table and the code all read from
 * here, so a limit is changed by touching this file alone.
 *
 * @module
 */

/** Defaults for `chat serve`. */
export const SERVE_DEFAULTS = {
  host: "0.0.0.0",
  port: 7777,
  room: "lobby",
  db: "chat.db",
  name: "chat",
  maxClients: 1000,
  /**
   * Rooms one member may be in at once: each costs it a welcome on every
   * reconnect and a share of every rename's announcement.
   */
  maxRoomsPerMember: 20,
  /**
   * Rooms the server keeps at once (a room exists while someone is in it; the
   * default room is always open): each holds a roster and a share of `/rooms`.
   */
  maxRooms: 1000,
  history: 50,
  /** Messages per second a connection may send (token bucket refill); 0 turns the limit off. */
  rate: 5,
  /** Messages a connection may send at once before the rate applies. */
  burst: 10,
  /**
   * The hard limit: bytes queued for one connection (waiting, or handed to a
   * write that has not finished) beyond which it is dropped at once as a
   * slow consumer. Counted from the first byte, before any write is tried.
   */
  maxQueueBytes: 1024 * 1024,
  /**
   * The soft limit: a connection with more than this queued for
   * `softQueueSeconds` without a break is dropped. Readers that keep up stay
   * far below it: the room's senders are paused (see `BACKPRESSURE`) long
   * before. 0 turns the soft limit off.
   */
  softQueueBytes: 512 * 1024,
  /** Seconds a connection may stay over `softQueueBytes` before it is dropped. */
  softQueueSeconds: 10,
  /**
   * Longest a room waits at a stretch for one member that fell behind (its
   * senders are not read meanwhile); then it goes on without it until it
   * catches up, and the soft or hard limit drops it if it does not read.
   * 0 turns backpressure off. Why so long: the kernel holds about 3.5 MiB
   * for a loopback peer and wakes the writer only after about 1.4 MiB was
   * read, so a member reading 300 KB/s shows progress only every 5 s
   * (measured, 1,000 members read by one process: holds up to 7.8 s).
   */
  backpressureSeconds: 10,
  /** Seconds a connection that has sent bytes may take to complete its hello (nickname). */
  handshakeSeconds: 30,
  /**
   * Seconds an IRC client may stay quiet before the server pings it; one
   * that stays quiet as long again is dropped (`ping timeout`). IRC clients
   * expect this, and answer at once.
   */
  pingSeconds: 90,
  /**
   * Seconds a new connection may stay silent before its first byte: tutorial
   * programs connect, then wait for a person to type. The connection cap
   * bounds what idle sockets cost.
   */
  firstBytesSeconds: 300,
  /** Seconds of continuous flooding after which a connection is disconnected. */
  floodSeconds: 10,
  /**
   * Days a message is kept; older ones are removed (0 = for ever). A school
   * year, so a course's room still holds its history at the end.
   */
  keepDays: 365,
  /**
   * Megabytes of history the database may use (0 = no cap); the oldest
   * messages go first. About two million messages of a line each, years of
   * a busy class; a flood (900 MB in 15 s was measured) then replaces its
   * own oldest messages instead of filling the disk.
   */
  maxDbMb: 1024,
  /**
   * Connections one address may hold at once, silent, half-open and
   * TLS-handshaking ones included; 0 turns every per-address limit off (a
   * benchmark, or a lab behind one NAT address).
   */
  maxPerAddress: 20,
  /** Connections of one address that may be joining at once (not yet members). */
  maxUnauthPerAddress: 10,
  /** New connections per second from one address (token bucket, burst of 2 s). */
  connectsPerSecond: 10,
  /** Hellos (joins) per second from one address; more wait their turn. */
  hellosPerSecond: 2,
  /**
   * `@all` messages one room may send per day (UTC): calling everyone is
   * loud, so a few a day, not one per bored minute. 0 turns `@all` off.
   */
  maxAtAllPerDay: 3,
  /**
   * Bytes one shared file may hold (`/send`, the page's attach button): a
   * phone photo or a scanned PDF fits; a film does not. 0 turns uploads off.
   */
  maxFileSize: 10 * 1024 * 1024,
  /**
   * Bytes every shared file together may hold on disk, beside the history
   * (the `files/` folder): about a hundred full-size uploads, a term of a
   * busy class's photos. Over it, uploads are refused until files are
   * recalled or their messages pruned (`--keep-days`, `--max-db-mb`).
   */
  filesQuota: 1024 * 1024 * 1024,
  /**
   * The quota when `--db :memory:` keeps the files in memory too, unless
   * `--files-quota` says otherwise: RAM is scarcer than disk.
   */
  memoryFilesQuota: 64 * 1024 * 1024,
  /**
   * Uploads one member may start per minute (token bucket, bursts of as
   * many): a file is a thousand messages' worth of bytes. 0 = no limit.
   */
  uploadsPerMinute: 10,
} as const;

/** Shared files (docs/protocol.md, "Files and pictures"): the fixed parts. */
export const FILE_LIMITS = {
  /** An `upload_ready` token must be used (the upload begun) within this long. */
  tokenSeconds: 60,
  /**
   * Uploads one member may have asked for and not finished at once: each
   * holds its size of the quota until it ends or its token expires.
   */
  maxPendingPerMember: 3,
  /** A file name keeps at most this many characters (its extension kept). */
  maxNameChars: 120,
  /** An upload that sends no byte for this long is abandoned (and nothing kept). */
  uploadIdleMs: 30_000,
  /** Bytes read or written per step, streaming a file to or from disk. */
  chunkBytes: 64 * 1024,
  /** Files whose message is gone (recalled, pruned) are looked for this often. */
  sweepEveryMs: 60_000,
  /** Unfinished uploads' temporary files older than this are removed at start and by the sweep. */
  staleTempMs: 60 * 60 * 1000,
} as const;

/** How history is stored and pruned; the caps themselves are flags above. */
export const STORAGE_LIMITS = {
  /** Pruning looks at the age and the size this often, and at start. */
  pruneEveryMs: 60_000,
  /**
   * Messages removed per transaction, one transaction per turn of the event
   * loop, so pruning a big history never stalls the room for long. Measured
   * on 300,000 messages of 300 bytes: 2,000 rows take 3–5 ms (5,000: 15 ms),
   * about 500,000 a second, faster than SQLite appends them (150,000).
   */
  pruneBatchRows: 2000,
  /** Once over its cap, the database is pruned down to this part of it, not just under. */
  pruneToFraction: 0.9,
  /** The size is looked at again after appending this part of the cap. */
  pruneCheckFraction: 0.02,
  /** The write-ahead log is cut back to this size after each checkpoint. */
  walLimitBytes: 4 * 1024 * 1024,
  /** A storage error is logged at once, its repeats at most this often. */
  storeErrorLogMs: 10_000,
} as const;

/**
 * The fixed parts of per-address admission (src/server/admission.ts); the
 * rest are flags in {@linkcode SERVE_DEFAULTS}.
 */
export const ADMISSION_LIMITS = {
  /** The connect bucket holds this many seconds' worth of connections. */
  connectBurstSeconds: 2,
  /** Hellos one address may make at once before `hellosPerSecond` applies. */
  helloBurst: 10,
  /** A hello that would wait longer than this for its turn is refused instead. */
  helloMaxWaitMs: 10_000,
  /** Password checks one address gets per second while none was wrong. */
  passwordChecksPerSecond: 2,
  /** After a wrong password, the address's next check waits this long, doubling per wrong one. */
  passwordBackoffStartMs: 1000,
  /** The longest wait between two password checks of one address. */
  passwordBackoffMaxMs: 60_000,
  /** Wrong passwords are forgotten this long after the last one (or at a right one). */
  passwordForgetMs: 10 * 60 * 1000,
  /** A password check that would wait longer than this is refused without being made. */
  passwordMaxWaitMs: 10_000,
  /** Addresses remembered at most (their counters, backoff and flood allowance). */
  maxTrackedAddresses: 50_000,
  /** Refusals of one address are logged at most once per this interval, with a count. */
  refusalLogIntervalMs: 1000,
  /**
   * Refusals on a TLS server being written at once (each needs a TLS
   * handshake first); beyond it a refused socket is closed without a line.
   * A plain refusal's line always fits a new socket's buffer, so it is
   * written at once.
   */
  maxTlsRefusalsInFlight: 32,
  /**
   * Open files the server needs beside its clients (its database, listeners,
   * refusals in flight, Deno's own): the start warns when the limit cannot
   * hold `--max-clients` plus this.
   */
  spareOpenFiles: 100,
} as const;

/** Fixed timings of the server's defences; not flags, but kept with the rest. */
export const SAFETY_TIMINGS = {
  /** A pause this long between two refused messages ends a flood. */
  floodQuietMs: 1000,
  /** A wrong password's refusal comes this long after the check, to slow guessing. */
  wrongPasswordDelayMs: 1000,
  /**
   * Longest a TLS handshake may take (less if `--handshake-seconds` is less):
   * a real TLS client finishes in milliseconds, while a plain client waiting
   * for the banner would otherwise hold its slot until it gives up.
   */
  tlsHandshakeMaxMs: 5000,
  /** After an accept error (too many open files), the listener waits this long, doubling… */
  acceptRetryStartMs: 100,
  /** …up to this, then tries again: it never stops accepting for good. */
  acceptRetryMaxMs: 1000,
} as const;

/**
 * Backpressure (docs/protocol.md, "Slow readers"): when a member of a room
 * falls behind, the room's senders are not read from until it catches up, so
 * a room whose senders outpace its readers slows down instead of dropping
 * them. The thresholds are shares of the tighter of the soft and hard limits:
 * low enough that a member that is held, with one early-flushed tick on top,
 * stays under the soft limit; high enough that one tick's batch (up to
 * `maxTickChars` of text, about 130 KB of short messages) is not mistaken for
 * a member falling behind. (A quarter of 256 KiB was: in scenario (c) of the
 * benchmark members were held 17,000 times in 10 s, writes shrank from 77 to
 * 27 KB and the server spent 70 % more per delivery.) How long a room waits
 * is `--backpressure-seconds`.
 */
export const BACKPRESSURE = {
  /** Queued beyond this share of the limit, a member is behind: its room pauses. */
  behindShare: 1 / 2,
  /** Back at or below this share, it has caught up: its room reads again. */
  caughtUpShare: 1 / 8,
  /**
   * A tick's messages are stored and sent early once their texts hold this
   * many characters: a read that finds data waiting completes without
   * yielding, so one tick could otherwise read everything the senders'
   * sockets hold and queue it for every member at once, before anyone is
   * seen to fall behind. Not less: a member costs a write per batch, and
   * 16K-character batches made writes a third of their size.
   */
  maxTickChars: 64 * 1024,
  /**
   * A connection with more than this of its own replies (answers to its
   * requests, errors, personal events) waiting to be written is not read
   * until the peer has taken half of them: its next lines wait in the
   * socket, so a client that asks and never reads costs the server a reply
   * or two, not a queue up to the hard limit. (160 such clients, each
   * asking for 64 MB of history or 3,000 `/who` in one write, grew the
   * server by 266 MB while each could queue up to the hard limit; by about
   * 140 MB with this, most of it garbage of the work, soon collected.) One
   * history page (64 KiB) fits; room traffic does not count (that is
   * backpressure's and the soft and hard limits').
   */
  maxRepliesWaiting: 64 * 1024,
} as const;

/**
 * The compatibility door for tutorial socket programs (docs/protocol.md,
 * "Compatibility door"): unframed TCP, the `NICK` handshake, UDP.
 */
export const COMPAT_LIMITS = {
  /**
   * Bytes without a newline that sit this long count as one line, on a
   * connection that never sent a newline: one `send()` arrives within a few
   * ms, while the next one is typed by a person hundreds of ms later.
   */
  unframedIdleMs: 100,
  /**
   * A first chunk of a single key waits this long instead: a
   * character-at-a-time terminal sends its second key sooner (then it is read
   * as a line client), even when its user pauses to think; taken earlier,
   * that key would be a one-letter nickname. Only a program whose first send
   * is one character and that then waits for an answer waits this long.
   */
  keystrokeIdleMs: 5000,
  /** `--compat`: the rest of the banner follows `NICK` after this, or at the client's first bytes. */
  nickWaitMs: 300,
  /** Messages of history replayed to an unframed client or UDP member (they print it all at once). */
  unframedHistory: 5,
  /** Largest write to an unframed client and largest datagram: the tutorials read with `recv(1024)`. */
  maxReplyBytes: 1024,
  /** Pause between two writes to an unframed client, so each arrives as its own `recv`. */
  replyGapMs: 30,
  /** A UDP member silent this long is dropped and is never sent to again. */
  udpExpiryMs: 10 * 60 * 1000,
  /** How often silent UDP members are looked for. */
  udpSweepMs: 10_000,
  /**
   * Datagrams per second the server sends to one IP address, all its ports
   * together, and the burst: a spoofed source must not turn the server into
   * an amplifier.
   */
  udpSendRate: 20,
  udpSendBurst: 40,
  /**
   * A new member's first reply is at most this many times the size of the
   * datagram that made it one, both counted with their IP and UDP headers:
   * a forged 1-byte datagram (29 bytes on the wire) draws at most 87 bytes
   * on the wire, not a 1,024-byte welcome.
   */
  udpFirstReplyFactor: 3,
  /** The IPv4 and UDP headers every datagram carries (IPv6 adds 20 more). */
  udpHeaderBytes: 28,
} as const;

/** How the door router tells connections apart (docs/protocol.md, "Opening"). */
export const ROUTER_TIMINGS = {
  /**
   * A new connection that has sent nothing this long gets the text door's
   * banner. Programs (`chat connect`, IRC clients, browsers) speak at once;
   * `nc` users and tutorial programs wait for the banner, and a person does
   * not notice a fifth of a second.
   */
  openingWaitMs: 200,
  /**
   * Where the kernel cannot say whether a silent peer's bytes wait unread,
   * the router checks that the server is not behind in reading its sockets
   * (src/server/doors/peer_silence.ts): three loopback round trips in a row
   * this quick say it is not. On an idle server one takes well under a
   * millisecond.
   */
  caughtUpMs: 20,
  /**
   * How long a busy server keeps making those round trips before it sends
   * the banner anyway: a silent `nc` user waits at most this much longer.
   */
  busyWaitMaxMs: 10_000,
  /**
   * The same wait for an address that opened the web page lately: browsers
   * open sockets early and send their request later, and a banner in such
   * a socket breaks the page (src/server/doors/recent_browsers.ts).
   */
  browserOpeningWaitMs: 3000,
  /** How long an address counts as a browser's after its last HTTP request. */
  browserMemoryMs: 30 * 60 * 1000,
  /** Addresses remembered as browsers' at most (the oldest is forgotten). */
  browsersRemembered: 4096,
} as const;

/** How big rooms behave (docs/protocol.md, "Big rooms"). */
export const ROOM_LIMITS = {
  /**
   * A room with more members than this gets its join and leave notices
   * summarised: a class of 30 sees every arrival, while in a room of 1,000
   * a notice per arrival would bury the conversation (and 5,000 arrivals
   * would cost 12.5 million notices).
   */
  bigRoomMembers: 100,
  /** A big room's summarised join and leave notices go out this often. */
  bigRoomNoticeMs: 1000,
  /** A text-dialect welcome names at most this many others, then counts. */
  welcomeNamesShown: 20,
} as const;

/** Telnet clients on the text door (docs/protocol.md, "Telnet"). */
export const TELNET_LIMITS = {
  /** A second Ctrl-C within this long leaves; the first one only clears the line. */
  interruptWindowMs: 2000,
  /** Terminal columns assumed for character mode until the client reports its own (NAWS). */
  defaultWidth: 80,
} as const;

/** The web door (docs/protocol.md, "Web door"): HTTP and the WebSocket. */
export const WEB_LIMITS = {
  /** Longest HTTP request head, in bytes; more is `431`. A browser's is under 2 KiB. */
  maxHeadBytes: 8 * 1024,
  /** A kept-alive HTTP connection waiting for its next request is closed after this. */
  keepAliveIdleMs: 5000,
  /** Requests served on one kept-alive HTTP connection before it is closed. */
  maxRequestsPerConnection: 100,
  /** How long the server's close of a WebSocket waits for the browser's close frame. */
  closeWaitMs: 1000,
} as const;

/** Protocol limits fixed by docs/protocol.md. */
export const PROTOCOL_LIMITS = {
  /** One frame (line), in bytes, newline excluded. */
  maxFrameBytes: 16 * 1024,
  /** One message text, in characters (code points). */
  maxTextChars: 4000,
  /**
   * Lines in one message (a multi-line message keeps its `\n`): enough for a
   * pasted stack trace or poem, few enough that one message cannot fill
   * everyone's screen.
   */
  maxTextLines: 50,
  /** Characters of the original a reply's quote carries. */
  quoteChars: 50,
  /** Distinct `@nick` mentions one message may notify. */
  maxMentions: 20,
  /** Results one `search` returns at most, newest first. */
  searchResults: 20,
  /**
   * Candidates one search looks at, at most: the newest matches of the
   * full-text index, or the newest messages of each room for words too short
   * for it (1–2 characters, scanned with LIKE). Bounds what a search costs
   * however big the history is.
   */
  searchScanRows: 5000,
  /** Nicknames are 1–24 characters. */
  maxNickChars: 24,
  /** Room names are 1–32 characters. */
  maxRoomChars: 32,
  /**
   * At most this many messages are replayed to a client resuming with
   * `since`, or sent in one `history` reply.
   */
  maxResumeHistory: 1000,
  /**
   * A welcome's history, or a `history` reply, holds at most this many bytes
   * of messages (their JSON lines), then says `more`: 20 `hello`s a second
   * asking for everything must not make the server read and encode 16 MB each.
   */
  maxHistoryBytes: 64 * 1024,
  /**
   * Longest the store may spend reading one history reply; it stops early
   * and says `more` (a slow disk must not stall every member's messages).
   * Generous, since a resume cut short leaves its client a gap to fill: a
   * busy machine's pauses (GC, a descheduled process) reach 20 ms, and the
   * byte cap above already bounds an ordinary read to a few milliseconds.
   */
  historyBudgetMs: 100,
  /** A `who` reply names at most this many members, with the total and a way to page. */
  maxWhoNames: 200,
} as const;

/** Accounts and moderation: fixed limits (README "Running the group"). */
export const MODERATION_LIMITS = {
  /** `/mute` without a duration mutes for this long. */
  defaultMuteMs: 10 * 60 * 1000,
  /** A mute or a ban lasts at most this long (a ban without a duration: for ever). */
  maxDurationMs: 30 * 24 * 60 * 60 * 1000,
  /** A member may recall its own message this long after sending it. */
  recallWindowMs: 2 * 60 * 1000,
  /** An account password is at least this many characters. */
  minPasswordChars: 6,
  /** And at most this many (scrypt hashes any length; a bound keeps it cheap). */
  maxPasswordChars: 200,
  /** A kick or ban reason, in characters. */
  maxReasonChars: 200,
  /** A room's pinned notice, in characters. */
  maxNoticeChars: 1000,
  /**
   * A recall also blanks the quotes of the recalled message in replies
   * among this many messages of the room after it (a reply comes soon after
   * what it answers; the bound keeps an old message's recall quick).
   */
  recallQuoteScanRows: 5000,
  /** What a recalled message's quote reads in a reply. */
  recalledQuote: "(recalled)",
  /** `/bans` lists at most this many. */
  bansListed: 50,
} as const;

/** Defaults for `chat connect`. */
export const CONNECT_DEFAULTS = {
  host: "localhost",
  port: 7777,
  /** Reconnect backoff starts here and doubles. */
  retryStartMs: 1000,
  /** Reconnect backoff never waits longer than this. */
  retryMaxMs: 30_000,
  /** Lines typed while offline that are kept to be sent on reconnect. */
  maxPendingLines: 100,
  /** Each reconnect wait is the backoff times a random factor within ±this. */
  retryJitter: 0.2,
  /** How long a server may take to answer the hello before the client retries. */
  helloTimeoutMs: 15_000,
  /** Quiet this long, the client pings to find out whether the link is alive. */
  pingIntervalMs: 30_000,
  /** No reply this long after a ping, the link counts as dead and is redialled. */
  pingTimeoutMs: 15_000,
  /** After `/quit`, how long to wait for the server's `bye`. */
  quitWaitMs: 1000,
  /**
   * Characters the input line holds: as much as one paste, so a paste longer
   * than a message (4000) stays there, with an error, to be cut down, never
   * thrown away.
   */
  maxInputChars: 256 * 1024,
  /** One bracketed paste, in characters; the rest is dropped with a notice. */
  maxPasteChars: 256 * 1024,
  /** Sent lines kept for up/down. */
  inputHistoryLines: 500,
  /** Lines kept on screen for redraw after a resize; older ones are forgotten. */
  scrollbackLines: 2000,
  /**
   * Messages of each room kept for a reply to pick (`/reply NICK`, Alt-Up):
   * about what the screen keeps, and only their first 60 characters.
   */
  recentMessagesPerRoom: 500,
  /** Quiet this long after ESC, it is the Escape key rather than a sequence. */
  escapeTimeoutMs: 50,
  /** At startup, how long to wait for the terminal to report where emoji left the cursor. */
  terminalAnswerMs: 500,
  /** Pipe mode: how long to wait at EOF for the echoes of sent messages. */
  drainTimeoutMs: 30_000,
  /**
   * Messages a resume fetches, page by page, to fill what its welcome left
   * out (`more`); older ones are said to be left out. Ten thousand is hours
   * of a busy class, and a few MB held while the pages come.
   */
  maxCatchUpMessages: 10_000,
  /** After `rate_limited` on a page of history, wait this long and ask again. */
  historyRetryMs: 1000,
} as const;
