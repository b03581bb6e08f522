-- Modify "analytics_events" table
ALTER TABLE `analytics_events` ADD INDEX `analyticsevent_user_id_occurred_at` (`user_id`, `occurred_at`);
