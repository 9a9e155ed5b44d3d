/**
 * The one table of `serve` flags: name, alias, environment variable, default, group, description (in English
 * and Chinese) and how the value is read. The @effect/cli options, `serve --help` and the flag tables of
 * README.md and README.zh-CN.md are all made from it.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Encoding from "../Encoding.js"
import * as Framing from "../Framing.js"
import * as Handler from "../Handler.js"
import * as TcpServer from "../TcpServer.js"
import * as Flag from "./flag.js"
import * as Values from "./values.js"

interface Spec<A> {
  readonly alias?: string
  readonly standardEnv?: string
  readonly group: Flag.Group
  readonly kind: Flag.Kind
  readonly placeholder?: string
  readonly default: A
  readonly shownDefault: string
  readonly description: string
  readonly zh: string
  readonly read: (text: string) => Effect.Effect<A, string>
}

const define = <A>(name: string, spec: Spec<A>): Flag.Flag<A> => ({
  name,
  alias: spec.alias,
  env: `TCP_SERVER_${name.toUpperCase().replace(/-/g, "_")}`,
  standardEnv: spec.standardEnv,
  group: spec.group,
  kind: spec.kind,
  placeholder: spec.placeholder ?? "",
  default: spec.default,
  shownDefault: spec.shownDefault,
  description: spec.description,
  zh: spec.zh,
  read: spec.read
})

const choice = <const A extends string>(choices: ReadonlyArray<A>, value: NoInfer<A>) => ({
  kind: "choice" as const,
  placeholder: choices.join("|"),
  default: value,
  shownDefault: value,
  read: Values.choice(choices)
})

const duration = (value: Duration.Duration) => ({
  kind: "duration" as const,
  placeholder: "DURATION",
  default: value,
  shownDefault: Values.formatDuration(value),
  read: Values.duration
})

const boolean = { kind: "boolean" as const, default: false, shownDefault: "false", read: Values.boolean }

const ranges = "one or more addresses or CIDR ranges separated by commas, such as 10.0.0.0/8,::1"

/**
 * The flags of `serve`, in the order `--help` shows them within their group.
 *
 * @since 0.1.0
 * @category flags
 */
export const serve = {
  host: define("host", {
    group: "listening",
    kind: "text",
    placeholder: "ADDRESS",
    default: "0.0.0.0",
    shownDefault: "0.0.0.0",
    description: "address to listen on: 0.0.0.0 every IPv4 interface, :: every interface, 127.0.0.1 this machine",
    zh: "监听的地址：0.0.0.0 为所有 IPv4 网卡，:: 为所有网卡，127.0.0.1 仅本机",
    read: Values.nonEmptyText("an address such as 0.0.0.0, :: or 127.0.0.1")
  }),
  port: define("port", {
    alias: "p",
    group: "listening",
    kind: "number",
    placeholder: "N",
    default: 9090,
    shownDefault: "9090",
    description: "port to listen on; 0 lets the system pick a free one (printed at start)",
    zh: "监听的端口；0 表示由系统选一个空闲端口（启动时打印）",
    read: Values.wholeNumber(0, 65535)
  }),
  backlog: define("backlog", {
    group: "listening",
    kind: "number",
    placeholder: "N",
    default: TcpServer.defaults.backlog,
    shownDefault: "somaxconn",
    description: "connections the kernel queues before the server accepts them; the default is the system's " +
      "maximum (/proc/sys/net/core/somaxconn, 511 where it cannot be read), so bursts of clients are not dropped",
    zh:
      "服务器接受之前内核可排队的连接数；默认取系统上限（/proc/sys/net/core/somaxconn，读不到时为 511），突发的大量连接不会被丢弃",
    read: Values.wholeNumber(1)
  }),
  encoding: define("encoding", {
    alias: "e",
    group: "protocol",
    kind: "text",
    placeholder: "NAME",
    default: "gbk",
    shownDefault: "gbk",
    description: "encoding of the clients' text: any name \"effect-tcp-server encodings\" lists",
    zh: "客户端文本的编码：\"effect-tcp-server encodings\" 列出的任一名称",
    read: (text) =>
      Effect.mapError(Encoding.validate(text), () => `an encoding that "effect-tcp-server encodings" lists`)
  }),
  framing: define("framing", {
    group: "protocol",
    ...choice(["chunk", "line", "delimiter", "length"], "chunk"),
    description: "how input is cut into messages: chunk (one per read, as the tutorial), line (LF or CRLF), " +
      "delimiter (--delimiter) or length (a --length-bytes big-endian prefix)",
    zh: "如何把输入切分成消息：chunk（每次读取一条，同教程），line（LF 或 CRLF），delimiter（--delimiter）" +
      "或 length（--length-bytes 字节的大端长度前缀）"
  }),
  delimiter: define("delimiter", {
    group: "protocol",
    kind: "text",
    placeholder: "TEXT",
    default: { text: "\\x03", bytes: new Uint8Array([3]) },
    shownDefault: "\\x03",
    description: "the delimiter of --framing delimiter, with escapes \\xHH, \\r, \\n, \\t, \\0, \\\\; refused if " +
      "its bytes can occur inside a character of the encoding",
    zh:
      "--framing delimiter 的分隔符，可用转义 \\xHH、\\r、\\n、\\t、\\0、\\\\；若其字节可能出现在该编码的字符内部则拒绝",
    read: (text) =>
      Framing.parseDelimiter(text).pipe(
        Effect.map((bytes) => ({ text, bytes })),
        Effect.mapError((error) =>
          error.reason === "Empty"
            ? "at least one byte, such as \\x03 or \\r\\n"
            : error.reason === "NonAscii"
            ? "ASCII characters, with other bytes written as \\xHH"
            : "escapes \\n, \\r, \\t, \\0, \\\\ or \\xHH (two hex digits)"
        )
      )
  }),
  lengthBytes: define("length-bytes", {
    group: "protocol",
    ...choice(["1", "2", "4"], "2"),
    description: "size in bytes of the length prefix of --framing length",
    zh: "--framing length 的长度前缀字节数"
  }),
  maxFrameBytes: define("max-frame-bytes", {
    group: "protocol",
    kind: "number",
    placeholder: "N",
    default: Framing.defaultMaxFrameBytes,
    shownDefault: String(Framing.defaultMaxFrameBytes),
    description: "longest message in bytes (line, delimiter, length framing); a longer one is a frame error; " +
      "with --length-bytes 1 or 2 the default is the prefix's maximum",
    zh:
      "消息的最大字节数（line、delimiter、length 分帧）；超长即帧错误；--length-bytes 为 1 或 2 时默认为前缀能表示的最大值",
    read: Values.wholeNumber(1)
  }),
  frameErrors: define("frame-errors", {
    group: "protocol",
    ...choice(["skip", "close"], "skip"),
    description: "what a frame error (too long, or undecodable with --decode-errors fatal) does: skip the " +
      "message or close the connection; logged and counted either way",
    zh: "帧错误（过长，或 --decode-errors fatal 时无法解码）的处理：跳过该消息或关闭连接；都会记录并计数"
  }),
  decodeErrors: define("decode-errors", {
    group: "protocol",
    ...choice(["replace", "fatal"], "replace"),
    description: "bytes invalid in the encoding: replace them with U+FFFD, or make the message a frame error",
    zh: "编码中无效的字节：替换为 U+FFFD，或把该消息当作帧错误"
  }),
  reply: define("reply", {
    group: "protocol",
    kind: "text",
    placeholder: "TEXT",
    default: Handler.defaultReply,
    shownDefault: Handler.defaultReply,
    description: "text sent back for every message",
    zh: "对每条消息的回复文本",
    read: Values.anyText
  }),
  echo: define("echo", {
    group: "protocol",
    ...boolean,
    description: "answer every message with the message itself instead of --reply",
    zh: "原样回显每条消息，而不是发送 --reply"
  }),
  noReply: define("no-reply", {
    group: "protocol",
    ...boolean,
    description: "answer nothing; only log",
    zh: "不回复，只记录"
  }),
  replyEnding: define("reply-ending", {
    group: "protocol",
    ...choice(["same", "lf", "crlf"], "same"),
    description: "line ending of replies in --framing line: the one the client used (same), LF or CRLF",
    zh: "--framing line 中回复的行尾：与客户端相同（same）、LF 或 CRLF"
  }),
  maxConnections: define("max-connections", {
    group: "limits",
    kind: "number",
    placeholder: "N",
    default: 10_000,
    shownDefault: "10000",
    description: "connections open at once; one more is refused and logged",
    zh: "同时打开的连接数上限；超出的连接被拒绝并记录",
    read: Values.wholeNumber(1)
  }),
  maxConnectionsPerIp: define("max-connections-per-ip", {
    group: "limits",
    kind: "number",
    placeholder: "N",
    default: 0,
    shownDefault: "0 (unlimited)",
    description: "connections open at once from one address; 0 is unlimited",
    zh: "同一地址同时打开的连接数上限；0 为不限",
    read: Values.wholeNumber(0)
  }),
  allow: define("allow", {
    group: "limits",
    kind: "list",
    placeholder: "LIST",
    default: [],
    shownDefault: "(everyone)",
    description: "comma-separated IPv4/IPv6 addresses or CIDR ranges; if set, only these clients are served; " +
      "a list with no address is refused",
    zh: "逗号分隔的 IPv4/IPv6 地址或 CIDR 网段；设置后只服务这些客户端；不含任何地址的列表会被拒绝",
    read: Values.list(ranges)
  }),
  deny: define("deny", {
    group: "limits",
    kind: "list",
    placeholder: "LIST",
    default: [],
    shownDefault: "(no one)",
    description: "comma-separated addresses or CIDR ranges refused; wins over --allow",
    zh: "逗号分隔的被拒绝的地址或 CIDR 网段；优先于 --allow",
    read: Values.list(ranges)
  }),
  busyText: define("busy-text", {
    group: "limits",
    kind: "text",
    placeholder: "TEXT",
    default: "",
    shownDefault: "(nothing)",
    description: "text sent to a refused client before its connection is closed",
    zh: "关闭被拒绝的连接之前发给客户端的文本",
    read: Values.anyText
  }),
  idleTimeout: define("idle-timeout", {
    group: "timeouts",
    ...duration(Duration.minutes(5)),
    description: "a connection without input for this long is closed; 0 is off",
    zh: "连接在这段时间内没有输入即关闭；0 为关闭此功能"
  }),
  maxConnectionAge: define("max-connection-age", {
    group: "timeouts",
    ...duration(Duration.zero),
    shownDefault: "0 (off)",
    description: "any connection open this long is closed; 0 is off",
    zh: "任何连接打开这么久即关闭；0 为不限"
  }),
  writeTimeout: define("write-timeout", {
    group: "timeouts",
    ...duration(Duration.seconds(30)),
    description: "a client that leaves a full 64 KiB output buffer unread this long is closed; 0 is off",
    zh: "客户端这么久不读取已满的 64 KiB 输出缓冲区即关闭连接；0 为关闭此功能"
  }),
  shutdownGrace: define("shutdown-grace", {
    group: "timeouts",
    ...duration(Duration.seconds(3)),
    description: "on shutdown, how long connections get to finish and flush their replies",
    zh: "关闭服务器时，连接完成处理并发出回复的时限"
  }),
  goodbye: define("goodbye", {
    group: "timeouts",
    kind: "text",
    placeholder: "TEXT",
    default: "",
    shownDefault: "(nothing)",
    description: "text sent to every client when a shutdown closes its connection",
    zh: "关闭服务器时发给每个客户端的文本",
    read: Values.anyText
  }),
  quiet: define("quiet", {
    alias: "q",
    group: "output",
    ...boolean,
    description: "log only warnings and errors: the same as --log-level warning",
    zh: "只记录警告和错误：等同于 --log-level warning"
  }),
  logLevel: define("log-level", {
    group: "output",
    ...choice(["debug", "info", "warning", "error"], "info"),
    description: "least important log lines shown; info shows a line per connection and message",
    zh: "显示的最低日志级别；info 为每个连接和每条消息打印一行"
  }),
  logFormat: define("log-format", {
    group: "output",
    ...choice(["tutorial", "json", "logfmt"], "tutorial"),
    description: "how log lines look: tutorial (the message alone, warnings and errors on stderr), json (one " +
      "object per line) or logfmt (key=value); json and logfmt put every record on stdout (or --log-file) and " +
      "the start lines on stderr",
    zh: "日志行的格式：tutorial（只有消息，警告和错误在 stderr），json（每行一个对象）或 logfmt（key=value）；" +
      "json 和 logfmt 把所有记录写到 stdout（或 --log-file），启动信息写到 stderr"
  }),
  logFile: define("log-file", {
    group: "output",
    kind: "text",
    placeholder: "PATH",
    default: Option.none<string>(),
    shownDefault: "(stdout and stderr)",
    description: "append every log line to this file instead; SIGHUP reopens it (for logrotate)",
    zh: "把所有日志行追加到这个文件；SIGHUP 重新打开它（供 logrotate 使用）",
    read: (text) => Effect.map(Values.nonEmptyText("a file path")(text), Option.some)
  }),
  display: define("display", {
    group: "output",
    ...choice(["text", "hex", "both"], "text"),
    description: "what is logged of each message: its text, its bytes in hex, or both",
    zh: "每条消息记录什么：文本、十六进制字节，或两者"
  }),
  stats: define("stats", {
    group: "output",
    ...duration(Duration.zero),
    shownDefault: "0 (never)",
    description: "print a stats line (connections, memory) on stderr this often; 0 never (SIGUSR1 prints one)",
    zh: "每隔这么久在 stderr 打印一行统计（连接数、内存）；0 为从不（SIGUSR1 随时打印一行）"
  }),
  metricsPort: define("metrics-port", {
    group: "observability",
    kind: "number",
    placeholder: "N",
    default: Option.none<number>(),
    shownDefault: "(off)",
    description: "serve /metrics (Prometheus), /healthz and /readyz over HTTP on this port; 0 lets the system " +
      "pick one (printed at start)",
    zh: "在此端口通过 HTTP 提供 /metrics（Prometheus）、/healthz 和 /readyz；0 表示由系统选一个（启动时打印）",
    read: (text) => Effect.map(Values.wholeNumber(0, 65535)(text), Option.some)
  }),
  metricsHost: define("metrics-host", {
    group: "observability",
    kind: "text",
    placeholder: "ADDRESS",
    default: "127.0.0.1",
    shownDefault: "127.0.0.1",
    description: "address the metrics server listens on",
    zh: "指标服务器监听的地址",
    read: Values.nonEmptyText("an address such as 127.0.0.1 or 0.0.0.0")
  }),
  otlpEndpoint: define("otlp-endpoint", {
    group: "observability",
    standardEnv: "OTEL_EXPORTER_OTLP_ENDPOINT",
    kind: "text",
    placeholder: "URL",
    default: Option.none<string>(),
    shownDefault: "(off)",
    description: "send OpenTelemetry traces (a span per connection) over OTLP/HTTP to URL/v1/traces; off " +
      "means no spans at all",
    zh: "通过 OTLP/HTTP 把 OpenTelemetry 追踪（每个连接一个 span）发送到 URL/v1/traces；关闭时完全不产生 span",
    read: Values.url
  })
}

/**
 * Every flag of `serve`, in table order.
 *
 * @since 0.1.0
 * @category flags
 */
export const serveFlags: ReadonlyArray<Flag.Flag<unknown>> = Object.values(serve)
