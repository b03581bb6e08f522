-- Modify "products" table
ALTER TABLE `products` ADD INDEX `product_merchant_id_on_sale` (`merchant_id`, `on_sale`);
