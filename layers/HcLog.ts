/**
 * Logs as hclog JSON lines on stderr, the form Nomad's plugin loader re-logs with the right level
 * (hashicorp/go-plugin client.go logStderr, log_entry.go). Nomad drops a record whose @timestamp is not exactly
 * `2006-01-02T15:04:05.000000Z07:00`, so timestamps carry six fractional digits.
 * stdout is never touched: it carries only the go-plugin handshake.
 */
import { Cause, Inspectable, Layer, Logger, LogLevel } from "effect"

const levels: Record<LogLevel.Literal, string> = {
  All: "trace",
  Trace: "trace",
  Debug: "debug",
  Info: "info",
  Warning: "warn",
  Error: "error",
  Fatal: "error",
  None: "error"
}

/** `2026-11-29T19:20:22.123000Z` */
export const hclogTimestamp = (date: Date): string => date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z")

export const formatRecord = (
  options: Pick<Logger.Logger.Options<unknown>, "logLevel" | "message" | "date" | "annotations" | "cause">
): string => {
  const messages = Array.isArray(options.message) ? options.message : [options.message]
  const record: Record<string, unknown> = {
    "@level": levels[options.logLevel._tag],
    "@message": messages.map((m) => (typeof m === "string" ? m : Inspectable.toStringUnknown(m))).join(" "),
    "@module": "containerd-driver",
    "@timestamp": hclogTimestamp(options.date)
  }
  for (const [key, value] of options.annotations) record[key] = value
  if (!Cause.isEmpty(options.cause)) record["error"] = Cause.pretty(options.cause)
  return JSON.stringify(record, (_, v) => (typeof v === "bigint" ? v.toString() : v)) + "\n"
}

/** A write to a closed pipe (the agent went away) must never crash the plugin. */
export const tolerateBrokenPipes = (): void => {
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {})
}

export const hclogLogger = Logger.make((options) => {
  process.stderr.write(formatRecord(options))
})

export const parseLogLevel = (text: string | undefined): LogLevel.LogLevel => {
  switch (text?.toLowerCase()) {
    case "trace":
      return LogLevel.Trace
    case "debug":
      return LogLevel.Debug
    case "warn":
    case "warning":
      return LogLevel.Warning
    case "error":
      return LogLevel.Error
    default:
      return LogLevel.Info
  }
}

/** Replaces Effect's default logger; the level comes from CONTAINERD_DRIVER_LOG_LEVEL (default info). */
export const layer = (level: LogLevel.LogLevel): Layer.Layer<never> =>
  Layer.merge(Logger.replace(Logger.defaultLogger, hclogLogger), Logger.minimumLogLevel(level))
