-- Create "catalog_changes" table
CREATE TABLE `catalog_changes` (`id` bigint NOT NULL AUTO_INCREMENT, `entity` varchar(32) NOT NULL, `entity_id` bigint NOT NULL, `created_at` datetime(6) NOT NULL, PRIMARY KEY (`id`), INDEX `catalogchange_created_at` (`created_at`)) CHARSET utf8mb4 COLLATE utf8mb4_bin AUTO_INCREMENT 300647710720;
