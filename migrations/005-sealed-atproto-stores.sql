-- The ATProto stores' values are sealed at rest (src/lib/sealing.ts), so SQL can no longer read
-- the app state inside a saved authorization state: a refused sign-in finds its rows by this hash
-- of the app state instead (src/atproto/stores.ts forgetAuthStates). Rows from before are sealed,
-- and given their hash, at start-up.
ALTER TABLE atproto_auth_states ADD COLUMN app_state_hash TEXT;
CREATE INDEX atproto_auth_states_app_state ON atproto_auth_states(app_state_hash);
