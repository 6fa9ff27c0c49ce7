// A network as the domain sees it: its name, one pool per range set, and the claim policy.
import type { ClaimPolicy } from "./ClaimPolicy.ts"
import type { Pool } from "./Pool.ts"

/** One CNI network on this node: every attachment gets one address from each pool. */
export interface Network {
  readonly name: string
  readonly pools: ReadonlyArray<Pool>
  readonly policy: ClaimPolicy
  /**
   * The original plugin's interface (CNI_ARGS CIDR=, no stdin): an owner may hold several
   * addresses, each added by its own ADD and released by the DEL that names it (vxlan-cni gives
   * one container ID both the gateway and the container address). Default: one address per pool,
   * replaced by a new ADD and released whole by DEL.
   */
  readonly perAddress?: boolean
}
