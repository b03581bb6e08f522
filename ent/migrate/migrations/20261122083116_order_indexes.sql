-- Modify "orders" table
ALTER TABLE `orders` DROP INDEX `order_merchant_id_created_at`, DROP INDEX `order_merchant_id_status_created_at`, ADD INDEX `order_merchant_id_created_at_customer_id` (`merchant_id`, `created_at`, `customer_id`), ADD INDEX `order_merchant_id_status_created_at_customer_id` (`merchant_id`, `status`, `created_at`, `customer_id`);
-- Modify "order_items" table
ALTER TABLE `order_items` ADD COLUMN `currency` varchar(3) NOT NULL DEFAULT 'CNY';
