-- Modify "merchants" table
ALTER TABLE `merchants` ADD INDEX `merchant_restricted_until` (`restricted_until`), ADD INDEX `merchant_suspended_until` (`suspended_until`);
-- Modify "products" table
ALTER TABLE `products` ADD COLUMN `on_sale` bool NOT NULL DEFAULT 0, DROP INDEX `product_status_min_price`, DROP INDEX `product_status_sales_count`, ADD INDEX `product_category_id_on_sale` (`category_id`, `on_sale`), ADD INDEX `product_on_sale_created_at` (`on_sale`, `created_at`), ADD INDEX `product_on_sale_min_price` (`on_sale`, `min_price`), ADD INDEX `product_on_sale_rating_average` (`on_sale`, `rating_average`), ADD INDEX `product_on_sale_sales_count` (`on_sale`, `sales_count`);
-- Backfill: on sale = ACTIVE, of an ACTIVE merchant not removed (ProductOnSaleHook and
-- MerchantOnSaleHook keep it from here on).
UPDATE `products` SET `on_sale` = 1 WHERE `status` = 'ACTIVE' AND `merchant_id` IN (SELECT `id` FROM `merchants` WHERE `status` = 'ACTIVE' AND `removed_at` IS NULL);
