// What a Nomad client prepares around a driver task (allocation and task dirs, logmon's FIFOs read continuously),
// the image references the cases start, and a bounded-concurrency map for setting up and tearing down many tasks.

export const busybox = (registry) => `${registry}/test/busybox:latest`

/**
 * A task as the Nomad client starts it: a fresh allocation dir whose FIFOs are read as logmon reads them, and its
 * TaskConfig. `remove()` closes the readers and removes the allocation dir; `allocations` tracks what is left.
 */
export const taskFactory = (ctx) => {
  const allocations = new Set()
  ctx.defer("allocation dirs", () => {
    for (const alloc of allocations) alloc.remove()
    allocations.clear()
  })
  const make = ({ image, command, args = [], name = "bench" }) => {
    const alloc = ctx.driver.makeAllocation()
    allocations.add(alloc)
    const dirs = alloc.task(name)
    const config = ctx.driver.taskConfig({ alloc, task: dirs, config: { image, command, args } })
    return {
      id: config.id,
      config,
      dirs,
      remove: () => {
        alloc.remove()
        allocations.delete(alloc)
      }
    }
  }
  return make
}

/** The manifest digest the registry answers for a tag: the digest-pinned reference of the same image. */
export const digestRef = async (registry, repository, tag = "latest") => {
  const response = await fetch(`http://${registry}/v2/${repository}/manifests/${tag}`, {
    method: "HEAD",
    headers: {
      accept: [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json"
      ].join(", ")
    }
  })
  const digest = response.headers.get("docker-content-digest")
  if (!response.ok || digest === null) throw new Error(`HEAD ${registry}/${repository}:${tag}: ${response.status}, no digest (is the test environment up?)`)
  return `${registry}/${repository}@${digest}`
}

/** `fn` over `items`, at most `limit` at a time; rejects with the first failure once all settled. */
export const mapLimit = async (items, limit, fn) => {
  const results = new Array(items.length)
  const errors = []
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      try {
        results[i] = await fn(items[i], i)
      } catch (error) {
        errors.push(error)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (errors.length > 0) throw new Error(`${errors.length} of ${items.length} failed; first: ${errors[0].message}`)
  return results
}
