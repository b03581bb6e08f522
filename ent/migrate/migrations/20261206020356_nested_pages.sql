-- Modify "products" table
ALTER TABLE `products` ADD INDEX `product_merchant_id_status_id` (`merchant_id`, `status`, `id`);
