// Why an allocation, a check or a release could not be done: the domain's typed failures.
import * as Schema from "effect/Schema"

/** No free address is left in a pool (checked against one full read of the table). */
export class PoolExhausted extends Schema.TaggedError<PoolExhausted>()("PoolExhausted", {
  pool: Schema.String
}) {}

/** A requested address is held by someone else (another route, another container, a lost conflict). */
export class AddressTaken extends Schema.TaggedError<AddressTaken>()("AddressTaken", {
  address: Schema.String,
  reason: Schema.String
}) {}

/** A requested address is not one the configuration lets us hand out. */
export class AddressOutsidePool extends Schema.TaggedError<AddressOutsidePool>()("AddressOutsidePool", {
  address: Schema.String,
  pools: Schema.String
}) {}

/** Every attempt lost a race: the cluster is busy; try again later. */
export class AttemptsExhausted extends Schema.TaggedError<AttemptsExhausted>()("AttemptsExhausted", {
  attempts: Schema.Number,
  tried: Schema.Array(Schema.String)
}) {}

/** The fabric cannot carry claims now (a session down, flapping or unknown): nothing was kept; try again later. */
export class FabricUnhealthy extends Schema.TaggedError<FabricUnhealthy>()("FabricUnhealthy", {
  detail: Schema.String,
  tried: Schema.Array(Schema.String)
}) {}

/** CHECK found the attachment not as the runtime believes it is. */
export class AttachmentInvalid extends Schema.TaggedError<AttachmentInvalid>()("AttachmentInvalid", {
  containerId: Schema.String,
  ifname: Schema.String,
  reason: Schema.String
}) {}

/** CHECK or DEL about an attachment this node has no record of. */
export class AttachmentUnknown extends Schema.TaggedError<AttachmentUnknown>()("AttachmentUnknown", {
  containerId: Schema.String,
  ifname: Schema.String
}) {}
