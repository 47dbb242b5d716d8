// Moved: the seeds are test/support/seed.ts and captureIo is test/support/cli-io.ts. This re-export
// only keeps branches written this round against the old path compiling; import the new modules, and
// delete this file once nothing imports it (`grep -rn "admin/seed.ts" test`).
export * from '../support/seed.ts';
export { captureIo } from '../support/cli-io.ts';
