// containerd's filter syntax as FakeContainerd evaluates it: quoting, AND within a string, OR across strings,
// regular expressions, presence, and the daemon's InvalidArgument on syntax errors.
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { labelledLookup, matchesFilter, parseFilters } from "../../src/containerd/filters.js"

const container = labelledLookup({ id: "web-1", image: "docker.io/library/nginx:1" }, { "nomad.alloc_id": "abc", tier: "front" })
const matches = (...filters: Array<string>) => matchesFilter(Either.getOrThrow(parseFilters(filters)), container)

describe("containerd filters", () => {
  it("matches everything without filters", () => {
    expect(matches()).toBe(true)
    expect(matches("")).toBe(true)
  })

  it("compares fields and quoted label keys", () => {
    expect(matches("id==web-1")).toBe(true)
    expect(matches("id==web-2")).toBe(false)
    expect(matches("labels.\"nomad.alloc_id\"==abc")).toBe(true)
    expect(matches("labels.\"nomad.alloc_id\"==\"abc\"")).toBe(true)
    expect(matches("labels.tier!=back")).toBe(true)
    expect(matches("labels.missing!=x")).toBe(true)
  })

  it("ANDs selectors within a string and ORs strings", () => {
    expect(matches("id==web-1,labels.tier==front")).toBe(true)
    expect(matches("id==web-1,labels.tier==back")).toBe(false)
    expect(matches("id==web-1,labels.tier==back", "image==docker.io/library/nginx:1")).toBe(true)
  })

  it("supports regular expressions and presence", () => {
    expect(matches("image~=\"^docker\\.io/\"")).toBe(true)
    expect(matches("image~=^quay")).toBe(false)
    expect(matches("labels.tier")).toBe(true)
    expect(matches("labels.none")).toBe(false)
  })

  it("rejects malformed filters", () => {
    for (const bad of ["id==", "!!!", "id==a,", "labels.\"unterminated==x"]) {
      const parsed = parseFilters([bad])
      expect(Either.isLeft(parsed) && parsed.left._tag).toBe("FilterError")
    }
  })
})
