// A network as the domain sees it: its name, one pool per range set, and the claim policy.
import type { ClaimPolicy } from "./ClaimPolicy.ts"
import type { Pool } from "./Pool.ts"

/** One CNI network on this node: every attachment gets one address from each pool. */
export interface Network {
  readonly name: string
  readonly pools: ReadonlyArray<Pool>
  readonly policy: ClaimPolicy
}
