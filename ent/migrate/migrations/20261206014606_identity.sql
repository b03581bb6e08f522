-- Modify "refresh_tokens" table
ALTER TABLE `refresh_tokens` DROP INDEX `refreshtoken_family_id`, ADD INDEX `refreshtoken_family_id_revoked_at` (`family_id`, `revoked_at`);
-- Modify "users" table
ALTER TABLE `users` ADD COLUMN `email_verified_at` datetime(6) NULL, ADD COLUMN `email_verification_sent_at` datetime(6) NULL;
-- Create "email_verifications" table
CREATE TABLE `email_verifications` (`id` bigint NOT NULL AUTO_INCREMENT, `email` varchar(254) NOT NULL, `code_hash` varchar(64) NOT NULL, `token_hash` varchar(64) NOT NULL, `attempts` bigint NOT NULL DEFAULT 0, `created_at` datetime(6) NOT NULL, `expires_at` datetime(6) NOT NULL, `used_at` datetime(6) NULL, `user_id` bigint NOT NULL, PRIMARY KEY (`id`), INDEX `emailverification_user_id_created_at` (`user_id`, `created_at`), UNIQUE INDEX `token_hash` (`token_hash`), CONSTRAINT `email_verifications_users_email_verifications` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION) CHARSET utf8mb4 COLLATE utf8mb4_bin AUTO_INCREMENT 115964116992;
