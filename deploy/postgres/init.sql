-- One database per service, and one for the credentials (auth): <CHIBO_PG_DB_PREFIX>_<service>, prefix "chibo" (docker-compose.yml,
-- shared/config.py StoreSettings.dbname). Run once by the postgres image's entrypoint on an empty data
-- directory (mounted into /docker-entrypoint-initdb.d). The services would also create a missing
-- database on start (shared/stores.py ensure_database); creating them here avoids that race.
CREATE DATABASE chibo_members;
CREATE DATABASE chibo_meetings;
CREATE DATABASE chibo_reporting;
CREATE DATABASE chibo_auth;  -- issued tokens' ids, revocations, API-key hashes (shared/auth.py AuthStore)
CREATE DATABASE chibo_keys;  -- each person's data key, wrapped; erasure tombstones (shared/pii.py KeyRing)
