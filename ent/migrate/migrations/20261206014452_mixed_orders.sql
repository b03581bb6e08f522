-- Modify "order_events" table
ALTER TABLE `order_events` MODIFY COLUMN `type` enum('CREATED','PAID','ACCEPTED','SHIPPED','TRACKING_UPDATED','DELIVERED','FULFILLED','COMPLETED','CANCELLED','REFUNDED','PAYMENT_FAILED','LINES_FULFILLED') NOT NULL;
-- Modify "order_items" table
ALTER TABLE `order_items` ADD COLUMN `fulfilled_at` datetime(6) NULL;
