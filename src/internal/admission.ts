import * as Net from "node:net"

/** @internal */
export interface AdmissionOptions {
  readonly maxConnections: number
  readonly maxConnectionsPerIp: number | undefined
  readonly allow: Net.BlockList | undefined
  readonly deny: Net.BlockList | undefined
}

const mappedIpv4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i

/** The address as the family it really is: `::ffff:1.2.3.4` is the IPv4 address 1.2.3.4. */
const normalize = (address: string): { readonly address: string; readonly family: "ipv4" | "ipv6" } => {
  const mapped = mappedIpv4.exec(address)
  if (mapped !== null) return { address: mapped[1] ?? address, family: "ipv4" }
  return { address, family: Net.isIPv6(address) ? "ipv6" : "ipv4" }
}

/** @internal */
export const matches = (list: Net.BlockList, address: string): boolean => {
  const normal = normalize(address)
  return list.check(normal.address, normal.family)
}

/**
 * Parses CIDR ranges or single addresses, IPv4 or IPv6, into a `BlockList`; returns the first invalid entry
 * on failure.
 *
 * @internal
 */
export const parseRanges = (
  ranges: ReadonlyArray<string>
): { readonly _tag: "Right"; readonly list: Net.BlockList } | { readonly _tag: "Left"; readonly invalid: string } => {
  const list = new Net.BlockList()
  for (const range of ranges) {
    const [address = "", prefixText, ...rest] = range.trim().split("/")
    const family = Net.isIPv4(address) ? "ipv4" : Net.isIPv6(address) ? "ipv6" : undefined
    if (family === undefined || rest.length > 0) return { _tag: "Left", invalid: range }
    if (prefixText === undefined) {
      list.addAddress(address, family)
      continue
    }
    const prefix = Number(prefixText)
    if (!/^\d+$/.test(prefixText) || prefix > (family === "ipv4" ? 32 : 128)) return { _tag: "Left", invalid: range }
    list.addSubnet(address, prefix, family)
  }
  return { _tag: "Right", list }
}

/**
 * Why a connection is refused; `reason` is the label of the refusal in logs and metrics.
 *
 * @internal
 */
export interface Refusal {
  readonly reason: "limit" | "per_ip" | "deny" | "allow" | "unknown_address"
  readonly message: string
}

/**
 * Decides which connections to take, on the address captured at accept: the deny list first, then the allow
 * list, the total limit and the per-address limit. A connection whose address could not be read (the client
 * reset it before the server looked) is refused whenever an address rule is set: the rules fail closed.
 * Counts the connections of each address while they are open.
 *
 * @internal
 */
export const make = (options: AdmissionOptions, open: () => number) => {
  const perIp = new Map<string, number>()
  const rules = options.deny !== undefined || options.allow !== undefined || options.maxConnectionsPerIp !== undefined
  return (socket: Net.Socket, address: string | undefined): Refusal | undefined => {
    if (address === undefined) {
      return rules
        ? {
          reason: "unknown_address",
          message:
            "the client's address could not be read (it closed the connection at once), and address rules are set"
        }
        : open() >= options.maxConnections
        ? { reason: "limit", message: `the server is at its limit of ${options.maxConnections} connections` }
        : undefined
    }
    if (options.deny !== undefined && matches(options.deny, address)) {
      return { reason: "deny", message: `${address} is in the deny list` }
    }
    if (options.allow !== undefined && !matches(options.allow, address)) {
      return { reason: "allow", message: `${address} is not in the allow list` }
    }
    if (open() >= options.maxConnections) {
      return { reason: "limit", message: `the server is at its limit of ${options.maxConnections} connections` }
    }
    const limit = options.maxConnectionsPerIp
    if (limit !== undefined) {
      const count = perIp.get(address) ?? 0
      if (count >= limit) return { reason: "per_ip", message: `${address} is at its limit of ${limit} connections` }
      perIp.set(address, count + 1)
      socket.once("close", () => {
        const left = (perIp.get(address) ?? 1) - 1
        if (left === 0) perIp.delete(address)
        else perIp.set(address, left)
      })
    }
    return undefined
  }
}
