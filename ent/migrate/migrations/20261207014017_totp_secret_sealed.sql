-- Modify "totp_credentials" table
ALTER TABLE `totp_credentials` MODIFY COLUMN `secret` varchar(128) NOT NULL;
