"""The shop's branding: name, logo and colours that members and cashiers see."""
