disable_update_check = true
