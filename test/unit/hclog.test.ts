import { describe, expect, it } from "vitest"
import { Cause, HashMap, LogLevel } from "effect"
import { formatRecord, hclogTimestamp, parseLogLevel } from "../../layers/HcLog.js"

describe("hclog JSON records", () => {
  it("use the timestamp layout Nomad parses: six fractional digits and a zone", () => {
    expect(hclogTimestamp(new Date(Date.UTC(2026, 10, 29, 19, 20, 22, 123)))).toBe("2026-11-29T19:20:22.123000Z")
  })

  it("carry level, message, module and annotations on one line", () => {
    const line = formatRecord({
      logLevel: LogLevel.Warning,
      message: ["pull slow", 3],
      date: new Date(0),
      annotations: HashMap.make(["task_id", "a/b/c"], ["bytes", 12n]),
      cause: Cause.empty
    })
    expect(line.endsWith("\n")).toBe(true)
    expect(line.indexOf("\n")).toBe(line.length - 1)
    expect(JSON.parse(line)).toEqual({
      "@level": "warn",
      "@message": "pull slow 3",
      "@module": "containerd-driver",
      "@timestamp": "1970-01-01T00:00:00.000000Z",
      task_id: "a/b/c",
      bytes: "12"
    })
  })

  it("map Effect's levels onto hclog's and read the configured level", () => {
    const level = (l: LogLevel.LogLevel) => JSON.parse(formatRecord({ logLevel: l, message: "", date: new Date(0), annotations: HashMap.empty(), cause: Cause.empty }))["@level"]
    expect([LogLevel.Trace, LogLevel.Debug, LogLevel.Info, LogLevel.Warning, LogLevel.Error, LogLevel.Fatal].map(level))
      .toEqual(["trace", "debug", "info", "warn", "error", "error"])
    expect(parseLogLevel("DEBUG")).toBe(LogLevel.Debug)
    expect(parseLogLevel(undefined)).toBe(LogLevel.Info)
  })
})
