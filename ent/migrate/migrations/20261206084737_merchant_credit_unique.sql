-- Modify "merchant_credits" table
ALTER TABLE `merchant_credits` ADD UNIQUE INDEX `merchantcredit_merchant_id` (`merchant_id`);
