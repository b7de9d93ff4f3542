-- 0008: reserved for a migration written on another branch at the same
-- time; this placeholder goes when that branch is merged (two files
-- numbered 8 stop every start: migrations must run 1, 2, 3, … without a
-- gap).
SELECT 1;
