"""DoIT's batches to the CA (Đ19.7): approved certificate requests gathered in the CA's own forms, sent
with a dispatch number, answered by the CA, handed over to the units."""
