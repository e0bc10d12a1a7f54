-- The waiting-times view of SPEC §4 for 2025, in SQL: completed pathways
-- (placements started in the period; whole days from referral to start)
-- and decision waits (to the first decision in the period), each with n,
-- mean, median, 92nd percentile by nearest rank (percentile_disc) and max,
-- per area, per provider and for England; open pathways at the end of the
-- period (not refused, under appeal, withdrawn, started or ended as of then)
-- with their count, median wait, and how many wait over 3 and 18 weeks.
CREATE TEMP TABLE received AS
  SELECT referral_id, data->>'area' AS area, occurred_at
    FROM events WHERE type = 'referral.received';

WITH waits AS (
  SELECT r.area, s.data->>'provider' AS provider,
         floor(extract(epoch FROM s.occurred_at - r.occurred_at) / 86400)::int AS days
    FROM events s JOIN received r USING (referral_id)
   WHERE s.type = 'placement.started' AND s.occurred_at >= '2025-01-01'
     AND s.occurred_at < '2026-01-01')
SELECT CASE WHEN GROUPING(area) = 0 THEN 'area:' || area
            WHEN GROUPING(provider) = 0 THEN 'provider:' || provider ELSE 'england' END AS scope,
       count(*), avg(days), percentile_disc(0.5) WITHIN GROUP (ORDER BY days),
       percentile_disc(0.92) WITHIN GROUP (ORDER BY days), max(days)
  FROM waits GROUP BY GROUPING SETS ((area), (provider), ());

WITH first_decision AS (
  SELECT DISTINCT ON (referral_id) referral_id, occurred_at
    FROM events WHERE type IN ('funding.approved', 'referral.refused')
   ORDER BY referral_id, seq),
waits AS (
  SELECT r.area, floor(extract(epoch FROM f.occurred_at - r.occurred_at) / 86400)::int AS days
    FROM first_decision f JOIN received r USING (referral_id)
   WHERE f.occurred_at >= '2025-01-01' AND f.occurred_at < '2026-01-01')
SELECT coalesce(area, 'england'), count(*), avg(days),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY days),
       percentile_disc(0.92) WITHIN GROUP (ORDER BY days), max(days)
  FROM waits GROUP BY ROLLUP (area);

WITH last_event AS (
  SELECT DISTINCT ON (referral_id) referral_id, type, data
    FROM events
   WHERE occurred_at <= '2026-01-01' AND type <> 'record.corrected'
   ORDER BY referral_id, seq DESC),
open AS (
  SELECT r.area, floor(extract(epoch FROM timestamptz '2026-01-01' - r.occurred_at) / 86400)::int AS days
    FROM last_event l JOIN received r USING (referral_id)
   WHERE l.type IN ('referral.received', 'assessment.completed', 'funding.requested',
                    'funding.approved', 'placement.offered')
      OR (l.type = 'appeal.decided' AND l.data->>'outcome' = 'upheld'))
SELECT coalesce(area, 'england'), count(*),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY days),
       count(*) FILTER (WHERE days > 21), count(*) FILTER (WHERE days > 126)
  FROM open GROUP BY ROLLUP (area);
