/**
 * Task preparation: everything between a task's decoded config and the runtime spec that runs it — check it against
 * the operator's policy, resolve and pull the image, read its account files from the layers, gather the host facts
 * the spec needs, build the spec.
 * StartTask and `containerd-driver spec` both go through here, so the spec a user inspects is the spec that runs.
 */
import { Effect, Either, Option } from "effect"
import type { TaskConfig } from "../../src/config/TaskConfig.js"
import type { Image } from "../../src/image/Image.js"
import { hostFactsNeeded } from "../../src/oci/HostFactsNeeded.js"
import { buildSpec, type SpecResult } from "../../src/oci/Spec.js"
import type { SpecError } from "../../src/oci/SpecError.js"
import type { NomadTask } from "../../src/oci/SpecInput.js"
import { admit } from "../../src/policy/Admission.js"
import { type EffectivePolicy, effectivePolicy } from "../../src/policy/Policy.js"
import type { PolicyError } from "../../src/policy/PolicyError.js"
import { gather, type HostFactsError } from "../HostFacts.js"
import type { ImageStoreError, ProgressListener } from "../ImageStore.js"
import { pullOptions } from "../imagestore/fromConfig.js"
import type { Node } from "../NodeConfig.js"

export interface PrepareRequest {
  readonly task: TaskConfig
  /** The task as Nomad describes it; its `namespace` selects the `namespace_policy` that applies. */
  readonly nomad: NomadTask
  readonly containerId: string
  /** Host directory the spec's generated files (hosts, resolv.conf) will be written to. */
  readonly generatedDir: string
  readonly onProgress?: ProgressListener
  /** Told when the registry could not be asked and the image already present is used. */
  readonly onWarning?: (message: string) => Effect.Effect<void>
  /** Labels for the image record when this preparation pulls the image (ImageGc's mark of images it may remove). */
  readonly imageLabels?: Readonly<Record<string, string>>
}

export interface PreparedTask {
  readonly image: Image
  readonly spec: SpecResult
}

export type PrepareError = PolicyError | ImageStoreError | HostFactsError | SpecError

/** The policy the task runs under: the node's, with the `namespace_policy` blocks of its Nomad namespace. */
export const taskPolicy = (node: Node, nomad: Pick<NomadTask, "namespace">): EffectivePolicy =>
  effectivePolicy(node.active.config, nomad.namespace ?? "default")

export const prepareTask = (node: Node, request: PrepareRequest): Effect.Effect<PreparedTask, PrepareError> =>
  Effect.gen(function*() {
    const { task, nomad } = request
    // A refused task pulls nothing.
    const effective = taskPolicy(node, nomad)
    const { policy } = effective
    yield* admit(effective, task, node.active.config.containerd_runtime)
    const image = yield* node.images.pull(task.image, {
      ...pullOptions(task),
      onProgress: request.onProgress,
      onWarning: request.onWarning,
      ...(request.imageLabels === undefined ? {} : { labels: request.imageLabels })
    })
    const account = (file: string) => node.images.readFile(image, file).pipe(Effect.map(Option.getOrUndefined))
    const [passwd, group] = yield* Effect.all([account("/etc/passwd"), account("/etc/group")], { concurrency: 2 })
    const host = yield* gather(hostFactsNeeded(task, nomad, policy))
    const spec = yield* Either.match(
      buildSpec({
        driver: {
          allow_privileged: policy.allow_privileged,
          containerd_runtime: node.active.config.containerd_runtime,
          namespace: node.active.namespace,
          policy
        },
        task,
        nomad,
        image: {
          config: image.imageConfig,
          ...(passwd === undefined ? {} : { passwd }),
          ...(group === undefined ? {} : { group })
        },
        host,
        containerId: request.containerId,
        generatedDir: request.generatedDir
      }),
      { onLeft: Effect.fail, onRight: Effect.succeed }
    )
    return { image, spec }
  }).pipe(Effect.withSpan("prepareTask", { attributes: { image: request.task.image, container: request.containerId } }))
