# A three-tier AWS network, as a user writes it. examples/terraform/show.json
# is what `terraform show -json` prints for it once applied (a state), written
# by hand to the format's documentation; import.sh imports it, applies it and
# checks it with real packets.

resource "aws_vpc" "shop" {
  cidr_block = "10.50.0.0/16"
  tags       = { Name = "shop" }
}

resource "aws_subnet" "public" {
  vpc_id                  = aws_vpc.shop.id
  cidr_block              = "10.50.1.0/24"
  map_public_ip_on_launch = true
  tags                    = { Name = "public" }
}

resource "aws_subnet" "app" {
  vpc_id     = aws_vpc.shop.id
  cidr_block = "10.50.2.0/24"
  tags       = { Name = "app" }
}

resource "aws_subnet" "db" {
  vpc_id     = aws_vpc.shop.id
  cidr_block = "10.50.3.0/24"
  tags       = { Name = "db" }
}

resource "aws_internet_gateway" "gw" {
  vpc_id = aws_vpc.shop.id
}

resource "aws_eip" "nat" {
  domain = "vpc"
}

resource "aws_nat_gateway" "ngw" {
  subnet_id     = aws_subnet.public.id
  allocation_id = aws_eip.nat.id
  tags          = { Name = "ngw" }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.shop.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.gw.id
  }
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.shop.id
  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.ngw.id
  }
}

resource "aws_route_table" "db" {
  vpc_id = aws_vpc.shop.id # the local route only
}

resource "aws_route_table_association" "public" {
  subnet_id      = aws_subnet.public.id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table_association" "app" {
  subnet_id      = aws_subnet.app.id
  route_table_id = aws_route_table.private.id
}

resource "aws_route_table_association" "db" {
  subnet_id      = aws_subnet.db.id
  route_table_id = aws_route_table.db.id
}

resource "aws_security_group" "web" {
  name   = "web"
  vpc_id = aws_vpc.shop.id
  ingress {
    protocol    = "tcp"
    from_port   = 80
    to_port     = 80
    cidr_blocks = ["0.0.0.0/0"]
  }
  egress {
    protocol    = "-1"
    from_port   = 0
    to_port     = 0
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "app" {
  name   = "app"
  vpc_id = aws_vpc.shop.id
  ingress {
    protocol        = "tcp"
    from_port       = 8080
    to_port         = 8080
    security_groups = [aws_security_group.web.id]
  }
  egress {
    protocol    = "-1"
    from_port   = 0
    to_port     = 0
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "db" {
  name   = "db"
  vpc_id = aws_vpc.shop.id
  ingress {
    protocol        = "tcp"
    from_port       = 5432
    to_port         = 5432
    security_groups = [aws_security_group.app.id]
  }
  # no egress block: the database opens no connection
}

resource "aws_network_acl" "db" {
  vpc_id     = aws_vpc.shop.id
  subnet_ids = [aws_subnet.db.id]
  ingress {
    rule_no    = 100
    action     = "allow"
    protocol   = "tcp"
    from_port  = 5432
    to_port    = 5432
    cidr_block = "10.50.2.0/24"
  }
  egress {
    rule_no    = 100
    action     = "allow"
    protocol   = "tcp"
    from_port  = 1024
    to_port    = 65535
    cidr_block = "10.50.2.0/24"
  }
}

resource "aws_instance" "web" {
  ami                    = "ami-12345678"
  instance_type          = "t3.micro"
  subnet_id              = aws_subnet.public.id
  private_ip             = "10.50.1.10"
  vpc_security_group_ids = [aws_security_group.web.id]
  tags                   = { Name = "web1" }
}

resource "aws_instance" "app" {
  ami                    = "ami-12345678"
  instance_type          = "t3.micro"
  subnet_id              = aws_subnet.app.id
  private_ip             = "10.50.2.10"
  vpc_security_group_ids = [aws_security_group.app.id]
  tags                   = { Name = "app1" }
}

resource "aws_instance" "db" {
  ami                    = "ami-12345678"
  instance_type          = "t3.micro"
  subnet_id              = aws_subnet.db.id
  private_ip             = "10.50.3.10"
  vpc_security_group_ids = [aws_security_group.db.id]
  tags                   = { Name = "db1" }
}

resource "aws_eip" "web" {
  domain = "vpc"
}

resource "aws_eip_association" "web" {
  instance_id   = aws_instance.web.id
  allocation_id = aws_eip.web.id
}

resource "aws_s3_bucket" "logs" { # not a network resource: listed as not imported
  bucket = "shop-logs"
}
