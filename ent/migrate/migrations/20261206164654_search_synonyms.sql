-- Create "search_synonyms" table
CREATE TABLE `search_synonyms` (`id` bigint NOT NULL AUTO_INCREMENT, `terms` json NOT NULL, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, PRIMARY KEY (`id`)) CHARSET utf8mb4 COLLATE utf8mb4_bin AUTO_INCREMENT 313532612608;
