-- Modify "merchants" table
ALTER TABLE `merchants` ADD COLUMN `show_exact_stock` bool NOT NULL DEFAULT 0;
