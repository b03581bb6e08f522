-- Add "slug" to "products": first nullable, then every existing product gets "p-<id>"
-- (unique, and a valid slug; merchants can change it), then it becomes required and unique.
ALTER TABLE `products` ADD COLUMN `slug` varchar(80) NULL;
-- Backfill the existing products.
UPDATE `products` SET `slug` = CONCAT('p-', `id`) WHERE `slug` IS NULL;
-- Modify "products" table
ALTER TABLE `products` MODIFY COLUMN `slug` varchar(80) NOT NULL, ADD UNIQUE INDEX `slug` (`slug`);
