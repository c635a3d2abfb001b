-- Image quotas sum an uploader's images across spaces; the collector of uploads never
-- attached to a post walks them oldest first.
CREATE INDEX space_image_by_uploader ON space_image (uploader);
CREATE INDEX space_image_by_age ON space_image (created_at);
