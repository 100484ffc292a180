-- The items not yet handed over to a territorial government, by area, newest first: what a
-- government sees besides the items handed to it (service.store._register_list.page_sql walks
-- this part of its list by this index alone, so the walk is bounded by its area's unassigned
-- items whatever the other filters).
CREATE INDEX register_items_unassigned ON register_items (district, row) WHERE territorial_unit IS NULL;
