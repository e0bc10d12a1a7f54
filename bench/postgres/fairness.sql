-- The fairness view of SPEC §4 for 2025, in SQL, over the loaded events:
-- per area and for England, referrals, first decisions (approved / refused,
-- overturned on appeal), the refusal rate with its Wilson 95% interval, the
-- funnel plot's z and 95% / 99.8% limits and flag, placements started,
-- refusals by reason and by stage, and the equality table (five groupings
-- with approval rates; disparity ratios against the best group of 5+).
-- Simpler than the ledger's view in one way: corrections are not applied.
CREATE TEMP TABLE received AS
  SELECT referral_id, data->>'area' AS area, data->>'sex' AS sex, data->>'ethnicity' AS ethnicity,
         data->>'age_band' AS age_band, data->>'substance' AS substance,
         data->>'disability' AS disability, occurred_at
    FROM events WHERE type = 'referral.received';
CREATE TEMP TABLE decisions AS
  WITH first_decision AS (
    SELECT DISTINCT ON (referral_id) referral_id, type, occurred_at, data
      FROM events WHERE type IN ('funding.approved', 'referral.refused')
     ORDER BY referral_id, seq),
  upheld AS (
    SELECT DISTINCT referral_id FROM events
     WHERE type = 'appeal.decided' AND data->>'outcome' = 'upheld')
  SELECT r.*, f.type = 'referral.refused' AS refused, f.data->>'reason' AS reason,
         f.data->>'stage' AS stage,
         (f.type = 'referral.refused' AND u.referral_id IS NOT NULL) AS overturned
    FROM first_decision f JOIN received r USING (referral_id)
    LEFT JOIN upheld u USING (referral_id)
   WHERE f.occurred_at >= '2025-01-01' AND f.occurred_at < '2026-01-01';

-- Decisions, rates, intervals and the funnel, per area and for England.
WITH per AS (
  SELECT coalesce(area, 'england') AS scope, count(*) AS n,
         count(*) FILTER (WHERE refused) AS refused,
         count(*) FILTER (WHERE overturned) AS overturned
    FROM decisions GROUP BY ROLLUP (area)),
p0 AS (SELECT refused::float8 / n AS p0 FROM per WHERE scope = 'england'),
referrals AS (
  SELECT coalesce(area, 'england') AS scope, count(*) AS referrals FROM received
   WHERE occurred_at >= '2025-01-01' AND occurred_at < '2026-01-01' GROUP BY ROLLUP (area)),
started AS (
  SELECT coalesce(r.area, 'england') AS scope, count(*) AS started
    FROM events s JOIN received r USING (referral_id)
   WHERE s.type = 'placement.started' AND s.occurred_at >= '2025-01-01'
     AND s.occurred_at < '2026-01-01'
   GROUP BY ROLLUP (r.area))
SELECT per.scope, coalesce(referrals, 0) AS referrals, n AS decisions, n - refused AS approved,
       refused, overturned, p AS refusal_rate,
       (p + 1.959964 ^ 2 / (2 * n) - 1.959964 * sqrt(p * (1 - p) / n + 1.959964 ^ 2 / (4 * n * n)))
         / (1 + 1.959964 ^ 2 / n) AS ci95_low,
       (p + 1.959964 ^ 2 / (2 * n) + 1.959964 * sqrt(p * (1 - p) / n + 1.959964 ^ 2 / (4 * n * n)))
         / (1 + 1.959964 ^ 2 / n) AS ci95_high,
       (p - p0) / nullif(sqrt(p0 * (1 - p0) / n), 0) AS z,
       greatest(0, p0 - 1.959964 * sqrt(p0 * (1 - p0) / n)) AS lower95,
       least(1, p0 + 1.959964 * sqrt(p0 * (1 - p0) / n)) AS upper95,
       greatest(0, p0 - 3.090232 * sqrt(p0 * (1 - p0) / n)) AS lower998,
       least(1, p0 + 3.090232 * sqrt(p0 * (1 - p0) / n)) AS upper998,
       CASE WHEN p > p0 + 3.090232 * sqrt(p0 * (1 - p0) / n) THEN 'above_998'
            WHEN p > p0 + 1.959964 * sqrt(p0 * (1 - p0) / n) THEN 'above_95'
            WHEN p < p0 - 3.090232 * sqrt(p0 * (1 - p0) / n) THEN 'below_998'
            WHEN p < p0 - 1.959964 * sqrt(p0 * (1 - p0) / n) THEN 'below_95'
            ELSE 'within' END AS flag,
       coalesce(started, 0) AS placements_started
  FROM per CROSS JOIN p0
  LEFT JOIN referrals USING (scope) LEFT JOIN started USING (scope),
  LATERAL (SELECT refused::float8 / n AS p) rate
 ORDER BY per.scope;

-- Refusals by reason and by stage.
SELECT coalesce(area, 'england') AS scope, reason, stage, count(*) AS refused
  FROM decisions WHERE refused
 GROUP BY GROUPING SETS ((area, reason), (area, stage), (reason), (stage));

-- Equality: per group, approval rates and disparity ratios.
WITH g AS (
  SELECT coalesce(area, 'england') AS scope,
         CASE WHEN GROUPING(sex) = 0 THEN 'sex' WHEN GROUPING(ethnicity) = 0 THEN 'ethnicity'
              WHEN GROUPING(age_band) = 0 THEN 'age_band' WHEN GROUPING(substance) = 0 THEN 'substance'
              ELSE 'disability' END AS dimension,
         coalesce(sex, ethnicity, age_band, substance, disability) AS grp,
         count(*) AS n, count(*) FILTER (WHERE NOT refused) AS approved
    FROM decisions
   GROUP BY GROUPING SETS ((area, sex), (area, ethnicity), (area, age_band), (area, substance),
                           (area, disability), (sex), (ethnicity), (age_band), (substance),
                           (disability)))
SELECT scope, dimension, grp, n, approved, n - approved AS refused,
       approved::float8 / n AS approval_rate,
       CASE WHEN n >= 5 THEN (approved::float8 / n) / nullif(max(approved::float8 / n)
            FILTER (WHERE n >= 5) OVER (PARTITION BY scope, dimension), 0) END AS disparity_ratio
  FROM g;
