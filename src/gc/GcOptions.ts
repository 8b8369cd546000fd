/**
 * The `gc` block: removing images no task uses any more, and containers no task owns, in the Docker driver's
 * option names. Image removal is off by default, as the original driver never removed an image (an image kept
 * lets a task restart while its registry is down); the reaper is on, as in the Docker driver, and only ever
 * touches containers carrying this driver's task label.
 */
import { Schema } from "effect"
import { invalidDurationMessage, parseGoDuration } from "../config/Duration.js"
import * as O from "../config/Options.js"

const duration = (option: string, positive: boolean) =>
  Schema.String.pipe(
    Schema.filter((s) => {
      const ms = parseGoDuration(s)
      if (ms === undefined) return `${option} ${JSON.stringify(s)} is not a Go duration (${invalidDurationMessage(s)})`
      if (positive ? ms <= 0 : ms < 0) return `${option} ${JSON.stringify(s)} must be ${positive ? "more than zero" : "zero or more"}, e.g. "5m"`
      return true
    })
  )

export const gcOptions = {
  image: O.bool({
    default: false,
    doc: "Remove an image the driver pulled for tasks once no task has used it for `image_delay` (images pulled " +
      "otherwise, e.g. with `ctr`, are never removed). Layers other images share stay."
  }),
  image_delay: O.string({
    default: "3m",
    check: duration("gc.image_delay", false),
    doc: "How long an image no task uses is kept before it is removed (Go duration); a task using it meanwhile keeps it."
  }),
  dangling_containers: O.block({
    doc: "Removal of containers labelled by this driver that no task owns (left by a lost DestroyTask or a crashed agent).",
    options: {
      enabled: O.bool({ default: true, doc: "Look for such containers every `period`." }),
      period: O.string({ default: "5m", check: duration("gc.dangling_containers.period", true), doc: "Time between two looks (Go duration); the first look is one period after the plugin starts." }),
      creation_grace: O.string({
        default: "5m",
        check: duration("gc.dangling_containers.creation_grace", false),
        doc: "A container younger than this is left alone (Go duration)."
      }),
      dry_run: O.bool({ default: false, doc: "Only log the containers that would be removed." })
    }
  })
} satisfies O.Options

export const gc = O.block({ doc: "New. Garbage collection of images and containers, as the Docker driver's `gc`.", options: gcOptions })

type GcConfig = Schema.Schema.Type<ReturnType<typeof O.struct<typeof gcOptions>>>

/** The `gc` settings in force, durations in milliseconds, defaults filled in when the block is absent. */
export interface GcSettings {
  readonly image: boolean
  readonly imageDelayMs: number
  readonly dangling: {
    readonly enabled: boolean
    readonly periodMs: number
    readonly creationGraceMs: number
    readonly dryRun: boolean
  }
}

const ms = (text: string, fallback: number): number => parseGoDuration(text) ?? fallback

export const gcSettings = (config: { readonly gc?: GcConfig | undefined }): GcSettings => {
  const gc = config.gc
  const dangling = gc?.dangling_containers
  return {
    image: gc?.image ?? false,
    imageDelayMs: ms(gc?.image_delay ?? "3m", 180_000),
    dangling: {
      enabled: dangling?.enabled ?? true,
      periodMs: ms(dangling?.period ?? "5m", 300_000),
      creationGraceMs: ms(dangling?.creation_grace ?? "5m", 300_000),
      dryRun: dangling?.dry_run ?? false
    }
  }
}
