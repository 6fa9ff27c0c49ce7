// Experiment entry for bench/startupSnapshot.ts: the CNI core evaluated at build time into a V8 startup snapshot.
import * as v8 from "node:v8"
import { runCni } from "../src/app/entry/cniEntry.ts"

// Every module of the CNI core is evaluated when the snapshot is built; at run time only this
// function runs. No warm-up: the bytecode of functions first called at run time is compiled then.
v8.startupSnapshot.setDeserializeMainFunction(() => runCni())
