-- The language of each job (issue 20): the one its request resolved at submission
-- (gis.i18n.resolve_lang: ?lang=, $RISKPLAN_LANG, Accept-Language, the scenario's place),
-- in which the job's progress messages, notes and errors are written (service.jobs.runner).
-- Rows of earlier releases get 'en': `lang` says what language a job's stored texts are in,
-- and those jobs wrote theirs in English whatever their scenario's language; labelling them
-- by their scenario would call English notes Chinese.
ALTER TABLE jobs ADD COLUMN lang TEXT NOT NULL DEFAULT 'en' CHECK (lang IN ('zh', 'en'));
