-- accolade store, version 1. Times are Unix seconds (bigint); records are the same
-- JSON (or compact award encoding) the embedded store keeps, in `body`, with the
-- columns queries need beside them.

CREATE TABLE meta (
    key   text PRIMARY KEY,
    body  bytea NOT NULL
);

CREATE TABLE achievements (
    key         uuid PRIMARY KEY,
    created_at  bigint NOT NULL,
    body        bytea NOT NULL
);

CREATE TABLE achievement_revisions (
    key       uuid NOT NULL,
    revision  bigint NOT NULL,
    body      bytea NOT NULL,
    PRIMARY KEY (key, revision)
);

CREATE SEQUENCE award_seq AS bigint START 1;

CREATE TABLE awards (
    id            uuid PRIMARY KEY,
    seq           bigint NOT NULL UNIQUE,
    achievement   uuid NOT NULL,
    email         text,
    recipient_id  text,
    name_words    text[] NOT NULL DEFAULT '{}',
    offered       boolean NOT NULL,
    revoked       boolean NOT NULL,
    suspended     boolean NOT NULL,
    valid_until   bigint,
    body          bytea NOT NULL
);
CREATE INDEX awards_email ON awards (email, seq) WHERE email IS NOT NULL;
CREATE INDEX awards_recipient_id ON awards (recipient_id, seq) WHERE recipient_id IS NOT NULL;
CREATE INDEX awards_achievement ON awards (achievement, seq);
CREATE INDEX awards_name_words ON awards USING gin (name_words);
CREATE INDEX awards_offered ON awards (seq) WHERE offered;
CREATE INDEX awards_revoked ON awards (seq) WHERE revoked;
CREATE INDEX awards_suspended ON awards (seq) WHERE suspended;
CREATE INDEX awards_valid_until ON awards (valid_until) WHERE valid_until IS NOT NULL;

CREATE TABLE award_copies (
    copy   uuid PRIMARY KEY,
    award  uuid NOT NULL
);

CREATE SEQUENCE event_seq AS bigint START 1;

CREATE TABLE award_events (
    award  uuid NOT NULL,
    seq    bigint NOT NULL,
    body   bytea NOT NULL,
    PRIMARY KEY (award, seq)
);

-- Every status slot ever given out; never removed. `reserved_at` is set while the
-- award is reserved (about to be signed, not yet recorded).
CREATE TABLE status_slots (
    list         integer NOT NULL,
    idx          integer NOT NULL,
    award        uuid NOT NULL,
    reserved_at  bigint,
    PRIMARY KEY (list, idx)
);
CREATE INDEX status_slots_reserved ON status_slots (reserved_at) WHERE reserved_at IS NOT NULL;

CREATE TABLE status_bits (
    purpose  smallint NOT NULL,
    list     integer NOT NULL,
    idx      integer NOT NULL,
    PRIMARY KEY (purpose, list, idx)
);

CREATE TABLE signed_lists (
    purpose  smallint NOT NULL,
    list     integer NOT NULL,
    digest   text NOT NULL,
    jwt      text NOT NULL,
    PRIMARY KEY (purpose, list)
);

-- Wallet handles: `c` pre-authorized code (with wrong transaction codes counted),
-- `o` offer id, `l` claim page id, `x` deferred transaction id, `m` notification id.
CREATE TABLE handles (
    kind      text NOT NULL,
    value     text NOT NULL,
    award     uuid NOT NULL,
    failures  smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, value)
);

CREATE TABLE tokens (
    digest      bytea PRIMARY KEY,
    expires_at  bigint NOT NULL,
    body        bytea NOT NULL
);
CREATE INDEX tokens_expiry ON tokens (expires_at);

CREATE TABLE nonces (
    nonce       text PRIMARY KEY,
    expires_at  bigint NOT NULL
);
CREATE INDEX nonces_expiry ON nonces (expires_at);

CREATE TABLE presentation_requests (
    id           uuid PRIMARY KEY,
    tx           text NOT NULL UNIQUE,
    pending      boolean NOT NULL,
    expires_at   bigint NOT NULL,
    answered_at  bigint,
    created_by   text,
    body         bytea NOT NULL
);

CREATE TABLE trust_entries (
    id    text PRIMARY KEY,
    body  bytea NOT NULL
);

CREATE TABLE partner_keys (
    id    text PRIMARY KEY,
    body  bytea NOT NULL
);

CREATE TABLE badge_types (
    id    text PRIMARY KEY,
    body  bytea NOT NULL
);

CREATE TABLE placements (
    achievement  uuid PRIMARY KEY,
    body         bytea NOT NULL
);

CREATE TABLE visibility (
    award   uuid PRIMARY KEY,
    hidden  boolean NOT NULL
);

CREATE TABLE images (
    digest  text PRIMARY KEY,
    format  text NOT NULL,
    width   integer NOT NULL,
    height  integer NOT NULL,
    bytes   bytea NOT NULL
);

CREATE TABLE earners (
    identity  text PRIMARY KEY,
    handle    text UNIQUE,
    body      bytea NOT NULL
);

CREATE TABLE staff (
    id          uuid PRIMARY KEY,
    email       text NOT NULL UNIQUE,
    created_at  bigint NOT NULL,
    body        bytea NOT NULL
);

CREATE TABLE staff_sessions (
    digest  bytea PRIMARY KEY,
    staff   uuid NOT NULL,
    body    bytea NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff);

CREATE TABLE personal_tokens (
    digest      bytea PRIMARY KEY,
    staff       uuid NOT NULL,
    created_at  bigint NOT NULL,
    body        bytea NOT NULL
);
CREATE INDEX personal_tokens_staff ON personal_tokens (staff);

CREATE TABLE staff_links (
    id     uuid PRIMARY KEY,
    staff  uuid NOT NULL,
    used   boolean NOT NULL,
    body   bytea NOT NULL
);
CREATE INDEX staff_links_staff ON staff_links (staff);

CREATE TABLE settings (
    key   text PRIMARY KEY,
    body  bytea NOT NULL
);

CREATE SEQUENCE audit_seq AS bigint START 1;

CREATE TABLE audit_log (
    seq   bigint PRIMARY KEY,
    at    bigint NOT NULL,
    body  bytea NOT NULL
);

CREATE TABLE outbox (
    key         text PRIMARY KEY,
    award       uuid,
    pending     boolean NOT NULL,
    award_mail  boolean NOT NULL,
    created_at  bigint NOT NULL,
    body        bytea NOT NULL
);
CREATE INDEX outbox_pending ON outbox (created_at) WHERE pending;
CREATE INDEX outbox_award ON outbox (award) WHERE award IS NOT NULL;

CREATE TABLE opt_outs (
    award  uuid PRIMARY KEY
);

CREATE TABLE counters (
    name  text NOT NULL,
    day   bigint NOT NULL,
    n     bigint NOT NULL,
    PRIMARY KEY (name, day)
);

-- Work one node of a fleet does at a time (the e-mail sender), held until `until`.
CREATE TABLE leases (
    name    text PRIMARY KEY,
    holder  text NOT NULL,
    until   bigint NOT NULL
);

-- Every node caches a little (status lists, the issuer profile, the trust registry,
-- achievements, the catalogue, badge pages); these triggers tell every node's
-- listener what changed, on the channel `accolade:<schema>`, when the change commits.
CREATE FUNCTION accolade_notify_const() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('accolade:' || TG_TABLE_SCHEMA, TG_ARGV[0]);
    RETURN NULL;
END $$;

CREATE FUNCTION accolade_notify_slot() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('accolade:' || TG_TABLE_SCHEMA, 'slot:' || NEW.list || ':' || NEW.idx);
    RETURN NULL;
END $$;

CREATE FUNCTION accolade_notify_bit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('accolade:' || TG_TABLE_SCHEMA,
            'bit:' || OLD.purpose || ':' || OLD.list || ':' || OLD.idx || ':0');
    ELSE
        PERFORM pg_notify('accolade:' || TG_TABLE_SCHEMA,
            'bit:' || NEW.purpose || ':' || NEW.list || ':' || NEW.idx || ':1');
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION accolade_notify_award() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('accolade:' || TG_TABLE_SCHEMA, 'award:' || OLD.id);
    ELSE
        PERFORM pg_notify('accolade:' || TG_TABLE_SCHEMA, 'award:' || NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER status_slots_notify AFTER INSERT ON status_slots
    FOR EACH ROW EXECUTE FUNCTION accolade_notify_slot();
CREATE TRIGGER status_bits_notify AFTER INSERT OR DELETE ON status_bits
    FOR EACH ROW EXECUTE FUNCTION accolade_notify_bit();
CREATE TRIGGER awards_notify AFTER UPDATE OR DELETE ON awards
    FOR EACH ROW EXECUTE FUNCTION accolade_notify_award();
CREATE TRIGGER meta_notify AFTER INSERT OR UPDATE OR DELETE ON meta
    FOR EACH STATEMENT EXECUTE FUNCTION accolade_notify_const('profile');
CREATE TRIGGER achievements_notify AFTER INSERT OR UPDATE OR DELETE ON achievements
    FOR EACH STATEMENT EXECUTE FUNCTION accolade_notify_const('achievements');
CREATE TRIGGER trust_notify AFTER INSERT OR UPDATE OR DELETE ON trust_entries
    FOR EACH STATEMENT EXECUTE FUNCTION accolade_notify_const('trust');
CREATE TRIGGER partners_notify AFTER INSERT OR UPDATE OR DELETE ON partner_keys
    FOR EACH STATEMENT EXECUTE FUNCTION accolade_notify_const('partners');
CREATE TRIGGER badge_types_notify AFTER INSERT OR UPDATE OR DELETE ON badge_types
    FOR EACH STATEMENT EXECUTE FUNCTION accolade_notify_const('catalogue');
CREATE TRIGGER placements_notify AFTER INSERT OR UPDATE OR DELETE ON placements
    FOR EACH STATEMENT EXECUTE FUNCTION accolade_notify_const('catalogue');
CREATE TRIGGER visibility_notify AFTER INSERT OR UPDATE OR DELETE ON visibility
    FOR EACH STATEMENT EXECUTE FUNCTION accolade_notify_const('catalogue');
CREATE TRIGGER settings_notify AFTER INSERT OR UPDATE OR DELETE ON settings
    FOR EACH STATEMENT EXECUTE FUNCTION accolade_notify_const('settings');
