-- A database created empty upgrades to a usable schema.
SELECT 'migrations_start_at', min(version) FROM schema_migrations;
SELECT 'sandboxes', count(*) FROM sandboxes;
SELECT 'events', count(*) FROM events;
SELECT 'settings', count(*) FROM settings;
