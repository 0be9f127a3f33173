-- accolade store, version 2: limits every node of a fleet shares. Expand only (new
-- tables and a function): nodes of version 1 run on beside it, keeping their limits
-- in memory as before.

-- Token buckets: a client address's request budget, a partner key's, ... Times are
-- Unix seconds from the nodes' clocks.
CREATE TABLE rate_buckets (
    key     text PRIMARY KEY,
    tokens  double precision NOT NULL,
    at      double precision NOT NULL
);
CREATE INDEX rate_buckets_at ON rate_buckets (at);

-- Takes from bucket `k` at `now_` (refilled at `rate` a second up to `burst`; a new one starts
-- full) at least `want_least` and at most `want_most` tokens; with `credit`, takes
-- `want_most` whenever the bucket is not in debt. Returns what it took (0 when it
-- refused) and, when it refused, the seconds until it would not. One statement: the
-- row stays locked from the refill to the take.
CREATE FUNCTION accolade_take(k text, now_ float8, rate float8, burst float8,
                              want_least float8, want_most float8, credit boolean,
                              OUT taken float8, OUT wait float8)
LANGUAGE plpgsql AS $$
DECLARE
    have float8;
BEGIN
    INSERT INTO rate_buckets AS b (key, tokens, at) VALUES (k, burst, now_)
    ON CONFLICT (key) DO UPDATE
        SET tokens = LEAST(burst, b.tokens + GREATEST(0, now_ - b.at) * rate),
            at = GREATEST(b.at, now_)
    RETURNING b.tokens INTO have;
    IF credit THEN
        taken := CASE WHEN have >= 0 THEN want_most ELSE 0 END;
    ELSIF have >= want_least THEN
        taken := LEAST(want_most, have);
    ELSE
        taken := 0;
    END IF;
    IF taken > 0 THEN
        UPDATE rate_buckets SET tokens = tokens - taken WHERE key = k;
        wait := 0;
    ELSIF credit THEN
        wait := -have / rate;
    ELSE
        wait := (want_least - have) / rate;
    END IF;
END $$;

-- Sign-in and password-reset throttles: failures counted per address or account.
CREATE TABLE throttles (
    key    text PRIMARY KEY,
    count  integer NOT NULL,
    until  bigint NOT NULL,
    last   bigint NOT NULL
);
CREATE INDEX throttles_last ON throttles (last);
