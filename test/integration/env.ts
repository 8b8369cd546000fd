import * as http from "node:http"

// Where the integration tests find the environment that scripts/test-env.sh provides. The defaults are the values
// `scripts/test-env.sh env` prints, so a developer who ran `up` without exporting them still reaches it.

export interface IntegrationEnv {
  readonly containerdAddress: string
  readonly registry: string
  readonly authRegistry: string
  readonly registryUser: string
  readonly registryPassword: string
}

const fromEnv = (name: string, fallback: string): string => {
  const value = process.env[name]
  return value === undefined || value === "" ? fallback : value
}

export const integrationEnv: IntegrationEnv = {
  containerdAddress: fromEnv("CONTAINERD_ADDRESS", "/run/containerd/containerd.sock"),
  registry: fromEnv("TEST_REGISTRY", "127.0.0.1:5000"),
  authRegistry: fromEnv("TEST_AUTH_REGISTRY", "127.0.0.1:5001"),
  registryUser: fromEnv("TEST_REGISTRY_USER", "testuser"),
  registryPassword: fromEnv("TEST_REGISTRY_PASSWORD", "testpassword")
}

export const setupHint =
  'start the test environment with `scripts/test-env.sh up` (as root), then `eval "$(scripts/test-env.sh env)"`'

export const basicAuthorization = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`

/** The status a loopback test registry answers on GET /v2/ (200 anonymous, 401 with auth). */
export const probeRegistry = (host: string): Promise<number> =>
  new Promise<number>((resolve, reject) => {
    const request = http.get(`http://${host}/v2/`, (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    })
    request.setTimeout(5_000, () => request.destroy(new Error("no answer within 5 s")))
    request.on("error", reject)
  })
